// Preloaded into a sloe process by tests (`node --import`): at exit, writes the CPU time the process used (user +
// system, in ms) to the file named by SLOE_TEST_CPU_FILE. CPU time is what sloe spent, whatever else the machine runs.
import { writeFileSync } from 'node:fs';

const file = process.env.SLOE_TEST_CPU_FILE;
if (file) {
  process.on('exit', () => {
    const used = process.cpuUsage();
    writeFileSync(file, String((used.user + used.system) / 1000));
  });
}
