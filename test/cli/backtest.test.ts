import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ReportSchema } from '../../src/report/index.js';
import { cli, cliAsync, ROOT } from '../support/cli.js';

const tmp = () => mkdtemp(join(tmpdir(), 'agent-trader-bt-cli-'));

describe('agent-trader run', () => {
  it('backtests a backtest config over the bundled sample and prints the report', async () => {
    const out = await tmp();
    const r = cli(['run', '--config', 'config/cn-daily.json', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split('\n')[0]).toMatch(/^backtest cn daily, 2 models \(rules-equal-weight, rules-momentum\), /);
    expect(r.stdout).toMatch(/rules-equal-weight\s+100000\.00\s+\d+\.\d\d/);
    expect(r.stdout).toMatch(/benchmark 000016\.SH/);
    const report = ReportSchema.parse(JSON.parse(await readFile(join(out, 'report.json'), 'utf8')));
    expect(Object.keys(report.signatures)).toEqual(['rules-equal-weight', 'rules-momentum']);
    expect(report.run.sessions).toBe(30);
    const html = await readFile(join(out, 'report.html'), 'utf8');
    expect(html).toContain('<svg');
    const log = (await readFile(join(out, 'rules-equal-weight', 'position.jsonl'), 'utf8')).trim().split('\n');
    expect(JSON.parse(log[0]!)).toMatchObject({ id: 0, positions: { CASH: 100000 } });
  });
});

/** The README's replay example: its command (from `$ npm run cli --` to the first output line) and its table rows. */
function readmeReplayExample(): { args: string[]; rows: Map<string, string> } {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('$ npm run cli -- backtest --market cn --bars data/ai-trader/');
  expect(start, 'the README shows the replay example on data/ai-trader').toBeGreaterThan(-1);
  const lines = readme.slice(start, readme.indexOf('```', start)).split('\n');
  const commandEnd = lines.findIndex((l) => !l.endsWith('\\'));
  const command = lines.slice(0, commandEnd + 1).map((l) => l.replace(/\\$/, '')).join(' ');
  const args = command.split(/\s+/).filter((a) => a !== '').slice(5); // drop `$ npm run cli --`
  const rows = new Map(lines.slice(commandEnd + 1).filter((l) => /^\S+\s+100000\.00 /.test(l)).map((l) => [l.split(/\s/)[0]!, l]));
  return { args, rows };
}

describe('agent-trader backtest', () => {
  it("replays AI-Trader's logs with no config file as the README shows, and report DIR prints the table again", async () => {
    const out = await tmp();
    const example = readmeReplayExample();
    expect(example.args[0]).toBe('backtest');
    expect(example.args.slice(-2)).toEqual(['--out', 'out/replay']);
    const r = cli([...example.args.slice(0, -1), out]);
    expect(r.code, r.stderr).toBe(0);
    // Risk's defaults apply to the recorded decisions (AI-Trader had none): some are refused by reason.
    // The README's rows are the rows the run prints, both of them: a backtest is a pure function of
    // its inputs (it waits on work in flight, never on idle turns), so they cannot vary by load.
    expect([...example.rows.keys()]).toEqual(['gpt-5', 'deepseek-chat-v3.1']);
    const row = (s: string, sig: string) => s.split('\n').find((l) => l.startsWith(`${sig} `));
    for (const sig of example.rows.keys()) expect(row(r.stdout, sig)).toBe(example.rows.get(sig));
    // Plain progress lines when not on a terminal.
    expect(r.stderr).toContain('100% 30/30');
    const again = cli(['report', out]);
    expect(again.code).toBe(0);
    for (const sig of example.rows.keys()) expect(row(again.stdout, sig)).toBe(row(r.stdout, sig));
  });

  it('resumes a stopped backtest where it stopped', async () => {
    const out = await tmp();
    const args = ['backtest', '--bars', 'data/sample/cn_daily.jsonl', '--out', out];
    const first = cli([...args, '--to', '2025-10-20']);
    expect(first.code, first.stderr).toBe(0);
    const second = cli(args);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toContain('resumed: 8 of 30 sessions were already done');
    const whole = await tmp();
    const straight = cli(['backtest', '--bars', 'data/sample/cn_daily.jsonl', '--out', whole]);
    const table = (s: string) => s.split('\n').filter((l) => l.startsWith('rules-equal-weight'));
    expect(table(second.stdout)).toEqual(table(straight.stdout));
    expect(await readFile(join(out, 'rules-equal-weight', 'position.jsonl'), 'utf8')).toBe(
      await readFile(join(whole, 'rules-equal-weight', 'position.jsonl'), 'utf8'),
    );
  });

  it('exits 2 with a precise message on bad input', async () => {
    const out = await tmp();
    const noBars = cli(['backtest', '--out', out]);
    expect(noBars.code).toBe(2);
    expect(noBars.stderr).toContain('--bars FILE');
    const badCash = cli(['backtest', '--bars', 'data/sample/cn_daily.jsonl', '--cash', 'lots', '--out', out]);
    expect(badCash.code).toBe(2);
    expect(badCash.stderr).toMatch(/agent_config\.initial_cash: expected .*got "lots"/);
    const missing = cli(['backtest', '--bars', 'nope.jsonl', '--out', out]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('price file not found');
    const noOut = cli(['backtest', '--bars', 'data/sample/cn_daily.jsonl']);
    expect(noOut.code).toBe(2);
    // An empty --out was the working directory: a whole run (state/, report.json, a folder per
    // signature) landed in the project root.
    const cwd = await tmp();
    await symlink(join(ROOT, 'node_modules'), join(cwd, 'node_modules')); // the CLI loads tsx from there
    const emptyOut = cli(['backtest', '--bars', join(ROOT, 'data/sample/cn_daily.jsonl'), '--out', ''], { cwd });
    expect(emptyOut.code).toBe(2);
    expect(emptyOut.stderr).toContain('error: --out: expected a directory, got ""');
    expect(readdirSync(cwd)).toEqual(['node_modules']);
  });

  it('takes the market and interval from the bars, and refuses flags that contradict them before writing anything', async () => {
    const base = await tmp();
    const out = (name: string) => join(base, name);
    const [us, market, frequency, range] = await Promise.all([
      cliAsync(['backtest', '--bars', 'data/sample/us_hourly.jsonl', '--from', '2025-11-03', '--to', '2025-11-04', '--out', out('us')]),
      cliAsync(['backtest', '--bars', 'data/sample/cn_daily.jsonl', '--market', 'us', '--out', out('market')]),
      cliAsync(['backtest', '--bars', 'data/sample/cn_daily.jsonl', '--frequency', 'hourly', '--out', out('frequency')]),
      cliAsync(['backtest', '--bars', 'data/sample/cn_daily.jsonl', '--from', '2025-09-01', '--to', '2025-12-31', '--out', out('range')]),
    ]);
    expect(us.code, us.stderr).toBe(0);
    expect(us.stdout.split('\n')[0]).toMatch(/^backtest us hourly, /);
    const report = ReportSchema.parse(JSON.parse(await readFile(join(out('us'), 'report.json'), 'utf8')));
    expect([report.run.market, report.run.frequency, report.run.sessions]).toEqual(['us', 'hourly', 12]);

    expect(market.code).toBe(2);
    expect(market.stderr).toContain('error: --market us, but data/sample/cn_daily.jsonl holds cn (A-share) bars');
    expect(frequency.code).toBe(2);
    expect(frequency.stderr).toContain('error: --frequency hourly, but data/sample/cn_daily.jsonl holds daily bars');
    expect(range.code).toBe(2);
    expect(range.stderr).toContain('--from 2025-09-01 is before the first bar of data/sample/cn_daily.jsonl (2025-10-09)');
    expect(range.stderr).toContain('--to 2025-12-31 is after the last bar of data/sample/cn_daily.jsonl (2025-11-19)');
    for (const [r, name] of [[market, 'market'], [frequency, 'frequency'], [range, 'range']] as const) {
      expect(r.stdout).toBe('');
      expect(existsSync(out(name))).toBe(false);
    }
  });

  it("refuses a replayed log of another market or bar interval than the run's, before writing anything", async () => {
    // Found: an A-share daily log over US hourly bars ran all 174 sessions with 0 orders and exit 0.
    const base = await tmp();
    const out = (name: string) => join(base, name);
    const [market, interval] = await Promise.all([
      cliAsync(['backtest', '--bars', 'data/sample/us_hourly.jsonl', '--replay-log', 'data/ai-trader/agent-logs/cn-daily.gpt-5.position.jsonl', '--out', out('market')]),
      cliAsync(['backtest', '--bars', 'data/sample/cn_hourly.jsonl', '--replay-log', 'data/ai-trader/agent-logs/cn-daily.gpt-5.position.jsonl', '--out', out('interval')]),
    ]);
    expect(market.code, market.stderr).toBe(2);
    const log = join(ROOT, 'data/ai-trader/agent-logs/cn-daily.gpt-5.position.jsonl');
    expect(market.stderr).toContain(`error: models[0].agent.log_file ${log} holds cn (A-share) symbols (600519.SH, `);
    expect(market.stderr).toContain('but market is us');
    expect(interval.code, interval.stderr).toBe(2);
    expect(interval.stderr).toContain(`error: models[0].agent.log_file ${log} holds daily records (dates like "2025-10-01"), but frequency is hourly`);
    for (const [r, name] of [[market, 'market'], [interval, 'interval']] as const) {
      expect(r.stdout).not.toContain('wrote');
      expect(existsSync(out(name))).toBe(false);
    }
  });
});
