// Browser test of the Impulse dashboard: starts a real impulsed with the REST
// gateway on a free port, opens the page in headless Debian chromium (driven
// by playwright-core; no browser is downloaded), submits a particles job with
// the form, waits for its progress bar to reach 100 % and the particle plot to
// draw, submits a long pi job and cancels it with its button, and saves
// screenshots.
//
//   IMPULSED=/path/to/impulsed node --test dashboard.test.mjs
//   node dashboard.test.mjs /path/to/impulsed
//
// Environment: IMPULSED (the server binary), CHROMIUM (default
// /usr/bin/chromium), TEST_UNDECLARED_OUTPUTS_DIR (where screenshots and the
// server log go; default tests/e2e/artifacts/).
import assert from 'node:assert/strict';
import {spawn} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {after, before, test} from 'node:test';
import {fileURLToPath} from 'node:url';

import {chromium} from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const impulsed = process.env.IMPULSED || process.argv[2] || '';
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const artifacts = process.env.TEST_UNDECLARED_OUTPUTS_DIR ||
                  path.join(here, 'artifacts');

let server = null;
let serverLog = '';
let baseUrl = '';
let context = null;
let page = null;
const tmpDirs = [];
const pageErrors = [];

function tmpDir(prefix) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tmpDirs.push(dir);
  return dir;
}

// Starts impulsed and resolves with the HTTP port it logged.
function startServer() {
  const dataDir = tmpDir('impulse-e2e-data-');
  // Never leave the server behind, even when this process dies early.
  process.once('exit', () => {
    if (server && server.exitCode === null && server.signalCode === null) {
      server.kill('SIGKILL');
    }
  });
  server = spawn(impulsed, [
    '--grpc_listen=127.0.0.1:0',
    '--http_listen=127.0.0.1:0',
    `--data_dir=${dataDir}`,
  ], {stdio: ['ignore', 'pipe', 'pipe']});
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
        () => reject(new Error(`impulsed logged no HTTP port in 30 s:\n${serverLog}`)),
        30000);
    const onData = (chunk) => {
      serverLog += chunk.toString();
      const m = serverLog.match(/http gateway serving.*?port=(\d+)/);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    server.stdout.on('data', onData);
    server.stderr.on('data', onData);
    server.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    server.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`impulsed exited (${code ?? signal}) before serving:\n${serverLog}`));
    });
  });
}

async function stopServer() {
  if (!server || server.exitCode !== null || server.signalCode !== null) return;
  const exited = new Promise((resolve) => server.once('exit', resolve));
  server.kill('SIGTERM');
  const timer = setTimeout(() => server.kill('SIGKILL'), 10000);
  await exited;
  clearTimeout(timer);
}

async function screenshot(name) {
  const file = path.join(artifacts, name);
  await page.screenshot({path: file, fullPage: true});
  console.log(`screenshot: ${file}`);
  return file;
}

// Submits the form and returns the new job's id.
async function submit(fill) {
  const before = await page.locator('#submit-form').getAttribute('data-last-job-id');
  await fill();
  await page.click('#submit-btn');
  await page.waitForFunction(
      (prev) => {
        const id = document.querySelector('#submit-form').dataset.lastJobId;
        return id && id !== prev;
      },
      before, {timeout: 15000});
  return page.locator('#submit-form').getAttribute('data-last-job-id');
}

// The number of pixels that differ clearly from the plot's background.
async function paintedPixels(selector) {
  return page.$eval(selector, (canvas) => {
    const ctx = canvas.getContext('2d');
    const {data} = ctx.getImageData(0, 0, canvas.width, canvas.height);
    const [r0, g0, b0] = [data[0], data[1], data[2]];  // corner: background
    let painted = 0;
    for (let i = 0; i < data.length; i += 4) {
      const d = Math.abs(data[i] - r0) + Math.abs(data[i + 1] - g0) +
                Math.abs(data[i + 2] - b0);
      if (d > 120) painted++;
    }
    return painted;
  });
}

before(async () => {
  assert.ok(impulsed, 'set IMPULSED (or pass the impulsed path as argument)');
  assert.ok(fs.existsSync(impulsed), `no impulsed at ${impulsed}`);
  assert.ok(fs.existsSync(chromiumPath),
            `no chromium at ${chromiumPath} (apt-get install chromium chromium-driver)`);
  fs.mkdirSync(artifacts, {recursive: true});
  const port = await startServer();
  baseUrl = `http://127.0.0.1:${port}`;
  // A fresh profile per run; launchPersistentContext is how playwright takes
  // a --user-data-dir.
  context = await chromium.launchPersistentContext(tmpDir('impulse-e2e-chromium-'), {
    executablePath: chromiumPath,
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
      '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync',
      '--disable-dev-shm-usage',  // containers have a small /dev/shm
    ],
    viewport: {width: 1400, height: 1100},
  });
  page = context.pages()[0] || await context.newPage();
  // Generous: the test may share a couple of cores with builds.
  page.setDefaultTimeout(60000);
  page.on('pageerror', (e) => pageErrors.push(`pageerror: ${e.message}`));
  page.on('console', (msg) => {
    // (Failed fetches are logged by the browser itself; the test checks
    // the answers it cares about.)
    if (msg.type() === 'error' && !/Failed to load resource/.test(msg.text())) {
      pageErrors.push(`console: ${msg.text()}`);
    }
  });
});

after(async () => {
  try {
    if (context) await context.close();
  } finally {
    await stopServer();
    fs.writeFileSync(path.join(artifacts, 'impulsed.log'), serverLog);
    for (const dir of tmpDirs) fs.rmSync(dir, {recursive: true, force: true});
  }
});

test('dashboard: submit, watch, plot, cancel', {timeout: 240000}, async (t) => {
  try {
    await page.goto(`${baseUrl}/`);
    assert.equal(await page.title(), 'Impulse dashboard');
    await page.waitForFunction(
        () => document.querySelector('#conn').textContent === 'connected');

    await t.test('a bad spec shows the REST error with its field', async () => {
      await page.selectOption('#f-kind', 'particles');
      await page.fill('#f-particles-count', '10');
      await page.fill('#f-particles-tend', '-1');
      await page.click('#submit-btn');
      const banner = page.locator('.error-item').first();
      await banner.waitFor({timeout: 10000});
      assert.equal(await banner.getAttribute('data-code'), 'INVALID_ARGUMENT');
      console.log(`error banner: ${await banner.locator('span').first().innerText()}`);
      await banner.locator('button').click();  // dismiss
    });

    let particlesId = '';
    await t.test('a particles job reaches 100 % and its plot draws', async () => {
      particlesId = await submit(async () => {
        await page.selectOption('#f-kind', 'particles');
        await page.selectOption('#f-device', 'AUTO');
        await page.fill('#f-particles-count', '2000');
        await page.fill('#f-particles-tend', '0.2');
        await page.fill('#f-particles-snapshot', '200');
      });
      console.log(`particles job ${particlesId}`);
      const row = `#jobs-body tr[data-job-id="${particlesId}"]`;
      await page.waitForSelector(`${row}[data-state="SUCCEEDED"]`, {timeout: 120000});
      await page.waitForFunction(
          (sel) => {
            const bar = document.querySelector(`${sel} .bar`);
            return bar && bar.dataset.progress === '1.0000' &&
                   bar.querySelector('.label').textContent === '100 %';
          },
          row, {timeout: 10000});
      const width = await page.$eval(`${row} .bar .fill`, (el) => el.style.width);
      assert.equal(parseFloat(width), 100, `bar width ${width}`);
      // The job is selected after submit: its snapshots drive the plot.
      await page.waitForSelector('#particles-canvas[data-drawn-step]', {timeout: 20000});
      const points = Number(await page.getAttribute('#particles-canvas', 'data-points'));
      assert.ok(points > 0, `plot drew ${points} points`);
      const painted = await paintedPixels('#particles-canvas');
      console.log(`particle plot: ${points} points, ${painted} painted pixels, step ` +
                  await page.getAttribute('#particles-canvas', 'data-drawn-step'));
      assert.ok(painted > 200, `the particle plot is blank (${painted} painted pixels)`);
      await page.waitForSelector('#d-events li.ev-SUCCEEDED', {timeout: 10000});
      assert.equal(await page.textContent('#d-state'), 'SUCCEEDED');
      await screenshot('dashboard-particles.png');
    });

    await t.test('the system monitor draws a live chart', async () => {
      await page.waitForFunction(() => {
        const status = document.querySelector('#monitor-status').textContent;
        const chart = document.querySelector('#monitor-chart');
        return status === 'live' && Number(chart.dataset.samples) >= 3;
      }, null, {timeout: 20000});
      assert.equal(await page.isVisible('text=monitor unavailable'), false);
      const painted = await paintedPixels('#monitor-chart');
      console.log(`system monitor: live, ${await page.getAttribute('#monitor-chart', 'data-samples')} samples`);
      assert.ok(painted > 50, 'the monitor chart is blank');
      assert.match(await page.textContent('#m-mem'), /\d/);
      await screenshot('dashboard-monitor.png');
    });

    await t.test('a long pi job shows its estimate and is cancelled by its button', async () => {
      const piId = await submit(async () => {
        await page.selectOption('#f-kind', 'pi');
        // 1e13 samples (the server's limit): far longer than the test.
        await page.fill('#f-pi-samples', '10000000000000');
      });
      console.log(`pi job ${piId}`);
      const row = `#jobs-body tr[data-job-id="${piId}"]`;
      await page.waitForSelector(`${row}[data-state="RUNNING"]`, {timeout: 30000});
      await page.waitForSelector('#pi-estimate[data-estimate]', {timeout: 30000});
      const estimate = Number(await page.getAttribute('#pi-estimate', 'data-estimate'));
      console.log(`running pi estimate ${estimate}`);
      assert.ok(Math.abs(estimate - Math.PI) < 0.05, `pi estimate ${estimate}`);
      await page.waitForTimeout(1500);  // a few more points on the chart
      await screenshot('dashboard-pi.png');
      await page.click(`${row} button.cancel`);
      await page.waitForSelector(`${row}[data-state="CANCELLED"]`, {timeout: 30000});
      assert.match(await page.textContent(`${row} .state`), /CANCELLED/);
      await page.waitForSelector('#d-events li.ev-CANCELLED', {timeout: 10000});
      assert.ok(await page.isHidden(`${row} button.cancel`));
    });

    // Final picture: the particles job selected again (its plot from the
    // start of its event log), the cancelled pi job in the list.
    await page.click(`#jobs-body tr[data-job-id="${particlesId}"] td.id`);
    await page.waitForSelector('#particles-canvas[data-drawn-step]', {timeout: 20000});
    await page.waitForSelector('#d-events li.ev-SUCCEEDED', {timeout: 10000});
    await page.waitForTimeout(500);
    await screenshot('dashboard.png');
    assert.deepEqual(pageErrors, [], 'the page logged errors');
  } catch (e) {
    if (page) {
      await screenshot('failure.png').catch(() => {});
      fs.writeFileSync(path.join(artifacts, 'failure.html'),
                       await page.content().catch(() => ''));
    }
    throw e;
  }
});
