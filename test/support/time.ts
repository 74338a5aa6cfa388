/** Waiting in tests: for a real process or server only; time the engine reads moves through its injected clock. */
export { sleep } from '../../src/util/async.js';
