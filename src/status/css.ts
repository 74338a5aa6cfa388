/** The one stylesheet of the status page: system fonts, light and dark by prefers-color-scheme, no web fonts. */
export const STATUS_CSS = `:root{--bg:#ffffff;--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--panel:#f6f8fa;--link:#0550ae;
--ok:#1a7f37;--warn:#9a6700;--bad:#cf222e;--none:#59636e;--ok-bg:#dafbe1;--warn-bg:#fff8c5;--bad-bg:#ffebe9;--none-bg:#eff2f5;color-scheme:light dark}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#9198a1;--line:#3d444d;--panel:#151b23;--link:#4493f8;
--ok:#3fb950;--warn:#d29922;--bad:#f85149;--none:#9198a1;--ok-bg:#12261e;--warn-bg:#272115;--bad-bg:#2d1214;--none-bg:#212830}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif}
a{color:var(--link)}a:focus-visible,button:focus-visible,input:focus-visible{outline:2px solid var(--link);outline-offset:2px}
header{display:flex;flex-wrap:wrap;justify-content:space-between;align-items:center;gap:8px;padding:10px 24px;border-bottom:1px solid var(--line);background:var(--panel)}
header nav{font-size:15px}.brand{font-weight:700;text-decoration:none;color:var(--fg)}
.asof{margin:0;color:var(--muted);font-size:13px}.asof form{display:inline}
button{font:inherit;color:var(--link);background:none;border:0;padding:0;cursor:pointer;text-decoration:underline}
main{padding:16px 24px 48px;max-width:1280px}
h1{font-size:22px;margin:4px 0 12px}h2{font-size:17px;margin:28px 0 8px}h3{font-size:15px;margin:16px 0 6px}
.slos :is(td,th):nth-child(3),.slos :is(td,th):nth-child(4),.slos :is(td,th):nth-child(5){font-variant-numeric:tabular-nums;text-align:right;white-space:nowrap;padding-right:18px}
.muted{color:var(--muted)}.num{font-variant-numeric:tabular-nums;text-align:right;white-space:nowrap}
table{border-collapse:collapse;width:100%;margin:4px 0 8px}
th,td{text-align:left;padding:5px 10px 5px 0;border-bottom:1px solid var(--line);vertical-align:middle}
th{font-size:12px;font-weight:600;color:var(--muted);text-transform:uppercase;letter-spacing:.03em}
.summary{display:flex;flex-wrap:wrap;gap:10px;margin:0 0 8px;padding:0;list-style:none}
.summary li{padding:6px 12px;border:1px solid var(--line);border-radius:6px;background:var(--panel)}
.summary strong{font-size:18px;margin-right:4px}
.st{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600;white-space:nowrap;border:1px solid currentColor}
.st.healthy{color:var(--ok);background:var(--ok-bg)}.st.burning{color:var(--warn);background:var(--warn-bg)}
.st.exhausted,.st.firing,.st.error{color:var(--bad);background:var(--bad-bg)}.st.nodata,.st.pending,.st.resolved{color:var(--none);background:var(--none-bg)}
.st.acknowledged,.st.snoozed{color:var(--warn);background:var(--warn-bg)}
.sev{font-weight:700;text-transform:uppercase;font-size:12px}
meter{width:90px;height:10px;vertical-align:middle;margin-right:6px}
.service{border-top:2px solid var(--line);margin-top:24px}
.owners{margin:0 0 6px;padding:0;list-style:none}.owners li{display:inline-block;margin-right:18px}
.banner{padding:8px 12px;border:1px solid var(--bad);border-left-width:4px;border-radius:4px;margin:8px 0}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:8px 0}dl.facts dt{color:var(--muted)}dl.facts dd{margin:0}
svg.chart{width:100%;max-width:720px;height:auto;display:block}svg.spark{width:120px;height:28px;vertical-align:middle}
.chart text{fill:var(--muted);font-size:11px}.chart .grid{stroke:var(--line);stroke-width:1}
.chart .ideal{stroke:var(--muted);stroke-dasharray:4 4;fill:none}.chart .zero{stroke:var(--bad);stroke-width:1}
.line{fill:none;stroke-width:2}.line.healthy{stroke:var(--ok)}.line.burning{stroke:var(--warn)}.line.exhausted{stroke:var(--bad)}.line.nodata{stroke:var(--none)}
ol.timeline{list-style:none;padding:0;margin:8px 0;border-left:2px solid var(--line)}
ol.timeline li{position:relative;padding:4px 0 8px 16px}ol.timeline li::before{content:"";position:absolute;left:-6px;top:10px;width:10px;height:10px;border-radius:50%;background:var(--line)}
ol.timeline li.fired::before,ol.timeline li.failed::before{background:var(--bad)}ol.timeline li.acknowledged::before,ol.timeline li.snoozed::before{background:var(--warn)}ol.timeline li.resolved::before{background:var(--ok)}
.login{max-width:420px;padding:16px;border:1px solid var(--line);border-radius:6px;background:var(--panel)}
.login label{display:block;margin-bottom:4px;font-weight:600}.login input{width:100%;padding:6px 8px;font:inherit;color:var(--fg);background:var(--bg);border:1px solid var(--line);border-radius:4px;margin-bottom:8px}
.login button{color:#fff;background:#1f6feb;text-decoration:none;padding:6px 14px;border-radius:4px}
code{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px;background:var(--panel);padding:1px 4px;border-radius:3px;overflow-wrap:anywhere}
`;

/** The favicon: a small burn-down line. */
export const FAVICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#1f6feb"/><path d="M3 4l4 3 3 1 3 4" stroke="#fff" stroke-width="2" fill="none"/></svg>`;
