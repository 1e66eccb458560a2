// How the explorer's overview holds up while the chain moves as fast as it can: the page is
// open in headless Chromium while `phalanx bench --rate max` loads the node, and the page's
// main thread is measured before (idle) and during the load.
//
//   node bench.mjs --rpc http://127.0.0.1:8645 --key ~/.phalanx/dev.key --token token.wasm \
//       [--bin phalanx] [--secs 15] [--runs 3]
//
// Prints per phase, median of the runs: frames drawn per second, long tasks (main thread busy
// over 50 ms) and the longest, the timer lag (p50/p99 of how late a 50 ms timer fires), the
// blocks the page received, and the load's tx/s as `phalanx bench` reports it.

import { spawn } from "node:child_process";
import { parseArgs } from "node:util";
import { chromium } from "playwright-core";

const { values: o } = parseArgs({
  options: {
    rpc: { type: "string", default: "http://127.0.0.1:8645" },
    key: { type: "string" },
    token: { type: "string" },
    bin: { type: "string", default: "phalanx" },
    secs: { type: "string", default: "15" },
    runs: { type: "string", default: "3" },
    chromium: { type: "string", default: process.env.CHROMIUM ?? "/usr/bin/chromium" },
  },
});
if (!o.key || !o.token) throw new Error("give --key (the funder's key file) and --token (token.wasm)");
const secs = Number(o.secs);

// Measures the page for `ms`: frames, long tasks, timer lag, blocks seen.
const probe = (ms) =>
  new Promise((done) => {
    const lags = [];
    let frames = 0;
    const longTasks = [];
    const seen0 = document.querySelectorAll("#latest-blocks tbody tr").length;
    const top0 = Number(document.querySelector("#latest-blocks tbody tr td")?.textContent ?? 0);
    const obs = new PerformanceObserver((l) => l.getEntries().forEach((e) => longTasks.push(e.duration)));
    obs.observe({ type: "longtask", buffered: false });
    let run = true;
    const frame = () => {
      frames++;
      if (run) requestAnimationFrame(frame);
    };
    requestAnimationFrame(frame);
    let last = performance.now();
    const tick = setInterval(() => {
      const now = performance.now();
      lags.push(Math.max(0, now - last - 50));
      last = now;
    }, 50);
    setTimeout(() => {
      run = false;
      clearInterval(tick);
      obs.disconnect();
      lags.sort((a, b) => a - b);
      const q = (p) => lags[Math.min(lags.length - 1, Math.floor(p * lags.length))] ?? 0;
      const top = Number(document.querySelector("#latest-blocks tbody tr td")?.textContent ?? 0);
      done({
        fps: frames / (ms / 1000),
        longTasks: longTasks.length,
        longestMs: Math.max(0, ...longTasks),
        lagP50: q(0.5),
        lagP99: q(0.99),
        blocks: top - top0,
        rows: seen0,
      });
    }, ms);
  });

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function once() {
  const browser = await chromium.launch({ executablePath: o.chromium, args: ["--no-sandbox", "--disable-gpu"] });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`${o.rpc}/explorer/#/`);
    await page.waitForSelector("#latest-blocks tbody tr");
    const idle = await page.evaluate(probe, secs * 1000);
    const load = spawn(o.bin, ["bench", "--rpc", o.rpc, "--key", o.key, "--token", o.token, "--rate", "max",
      "--duration", String(secs + 10), "--senders", "256", "--workers", "2", "--batch", "2000"], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    load.stdout.on("data", (d) => (out += d));
    let err = "";
    load.stderr.on("data", (d) => (err += d));
    // Funding the senders takes a while: measure once transfers flow (the bench says so).
    await new Promise((r) => {
      const t = setInterval(() => {
        if (/funded|pre-signed|submitting/.test(err)) {
          clearInterval(t);
          r();
        }
      }, 100);
    });
    await new Promise((r) => setTimeout(r, 3000));
    const busy = await page.evaluate(probe, secs * 1000);
    const code = await new Promise((r) => load.on("exit", r));
    if (code !== 0) throw new Error(`phalanx bench failed: ${err.slice(-500)}`);
    const tps = Number(/tps=(\d+(\.\d+)?)/.exec(out.trim().split("\n").pop() ?? "")?.[1] ?? 0);
    return { idle, busy, tps };
  } finally {
    await browser.close();
  }
}

const runs = [];
for (let i = 0; i < Number(o.runs); i++) {
  const r = await once();
  console.log(`run ${i + 1}: ${JSON.stringify(r)}`);
  runs.push(r);
}
const row = (phase) => {
  const m = (k) => median(runs.map((r) => r[phase][k]));
  return `| ${phase} | ${m("fps").toFixed(0)} | ${m("longTasks")} | ${m("longestMs").toFixed(0)} | ${m("lagP50").toFixed(1)} / ${m("lagP99").toFixed(1)} | ${m("blocks")} |`;
};
console.log(`explorer overview under load: median of ${runs.length} runs of ${secs} s; load ${median(runs.map((r) => r.tps)).toFixed(0)} tx/s`);
console.log("| phase | frames/s | long tasks | longest ms | timer lag p50 / p99 ms | blocks seen |");
console.log("|---|---|---|---|---|---|");
console.log(row("idle"));
console.log(row("busy"));
