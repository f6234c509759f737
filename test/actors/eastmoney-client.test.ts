/**
 * The EastMoney client's edge, as a table (STYLE.md): each raw answer of the fake EastMoney (in
 * its own process) -> the class it becomes, and never a secret in the message. Virtual time: a
 * held answer ends only when the test moves the clock past the deadline.
 */
import { createServer } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EastMoneyClient, ROUTES } from '../../src/actors/brokers/eastmoney/client.js';
import { refusalReason } from '../../src/actors/brokers/eastmoney/errors.js';
import { VenueHalted, VenueRefused, VenueUnavailable } from '../../src/actors/brokers/venue-adapter.js';
import type { ReasonCode } from '../../src/domain/reasons.js';
import { EpochVirtualScheduler } from '../../src/streams/virtual-time.js';
import { failure, secretsOf, T0, TIMEOUT_MS, until } from '../support/fake-eastmoney/harness.js';
import { FakeEastMoneyProcess } from '../support/fake-eastmoney/process.js';
import type { ExpiredAs, Fault } from '../support/fake-eastmoney/server.js';

let fake: FakeEastMoneyProcess;
beforeAll(async () => {
  fake = await FakeEastMoneyProcess.start({ startMs: T0 });
});
afterAll(async () => {
  await fake.dispose();
});
beforeEach(async () => {
  await fake.reset({ startMs: T0 });
});

function client(over: { cookie?: string; validatekey?: string; baseUrl?: string } = {}) {
  const scheduler = new EpochVirtualScheduler(T0);
  const c = new EastMoneyClient({ baseUrl: over.baseUrl ?? fake.baseUrl, cookie: over.cookie ?? fake.cookie, validatekey: over.validatekey ?? fake.validatekey, scheduler, timeoutMs: TIMEOUT_MS });
  return { client: c, scheduler };
}

const noSecrets = (e: Error) => {
  for (const s of secretsOf(fake)) expect(e.message).not.toContain(s);
};

/** The validatekey inside a page, as the site's pages carry it. */
const pageWithKey = () => `<!DOCTYPE html><html><body><input id="em_validatekey" type="hidden" value="${fake.validatekey}" /></body></html>`;

interface Row {
  readonly raw: string;
  readonly fault?: Fault;
  readonly expire?: ExpiredAs;
  readonly session?: 'wrong-cookie' | 'wrong-key';
  readonly cls: unknown;
  readonly outcomeKnown?: boolean;
  readonly says?: RegExp;
}

const QUERY_ANSWERS: readonly Row[] = [
  { raw: '200 the account', cls: undefined },
  { raw: '500', fault: { kind: 'status', status: 500 }, cls: VenueUnavailable, outcomeKnown: false, says: /500/ },
  { raw: '503', fault: { kind: 'status', status: 503 }, cls: VenueUnavailable, outcomeKnown: false },
  { raw: 'connection reset', fault: { kind: 'reset' }, cls: VenueUnavailable, outcomeKnown: false, says: /connection failed/ },
  { raw: 'no answer (timeout)', fault: { kind: 'hold' }, cls: VenueUnavailable, outcomeKnown: false, says: /no answer within 10000 ms/ },
  { raw: 'JSON without Data', fault: { kind: 'body', body: '{"Status":0,"Message":null}' }, cls: VenueUnavailable, says: /unexpected answer: Data/ },
  { raw: 'a row without Kyzj', fault: { kind: 'body', body: '{"Status":0,"Data":[{"Zzc":"1.00","positions":[]}]}' }, cls: VenueUnavailable, says: /Data\.0\.Kyzj/ },
  { raw: 'plain text', fault: { kind: 'body', body: `oops ${'x'} validatekey=${'K'}`, contentType: 'text/plain' }, cls: VenueUnavailable, says: /not JSON/ },
  { raw: 'Status -1 on a query', fault: { kind: 'body', body: '{"Status":-1,"Message":"系统繁忙"}' }, cls: VenueUnavailable, outcomeKnown: true, says: /系统繁忙/ },
  { raw: 'an HTML page (200)', fault: { kind: 'body', body: '<html><body>维护中</body></html>', contentType: 'text/html' }, cls: VenueHalted },
  { raw: '404 (the route moved)', fault: { kind: 'status', status: 404 }, cls: VenueHalted, says: /no longer has this route/ },
  { raw: 'session expired: 302 to the login page', expire: 'redirect', cls: VenueHalted, says: /redirected \(302\) to \/Login\/ExitIframe/ },
  { raw: 'session expired: the login page instead of JSON', expire: 'html', cls: VenueHalted, says: /session has expired/ },
  { raw: 'session expired: Status -2 会话已超时', expire: 'status', cls: VenueHalted, says: /会话已超时/ },
  { raw: 'a wrong cookie', session: 'wrong-cookie', cls: VenueHalted },
  { raw: 'a wrong validatekey', session: 'wrong-key', cls: VenueHalted },
];

describe('EastMoney client: raw answer -> class', () => {
  it.each(QUERY_ANSWERS)('$raw -> $cls.name', async ({ fault, expire, session, cls, outcomeKnown, says }) => {
    if (fault) await fake.fault(ROUTES.asset, fault);
    if (expire) await fake.expire(expire);
    const { client: c, scheduler } = client(
      session === 'wrong-cookie' ? { cookie: 'Uid=someoneelse123; Uuid=ffffffffffffffff' } : session === 'wrong-key' ? { validatekey: 'ffffffff-0000-4000-8000-000000000000' } : {},
    );
    const done = c.asset().then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    if (fault?.kind === 'hold') {
      await until(async () => (await fake.requests(ROUTES.asset)).some((r) => r.status === 0), 'the held request');
      scheduler.advanceTo(T0 + TIMEOUT_MS);
    }
    const error = await done;
    if (cls === undefined) {
      expect(error).toBeUndefined();
      return;
    }
    expect(error).toBeInstanceOf(cls);
    if (outcomeKnown !== undefined) expect((error as VenueUnavailable).outcomeKnown).toBe(outcomeKnown);
    if (says) expect(error!.message).toMatch(says);
    noSecrets(error!);
    // one attempt, never a retry
    expect(await fake.requests(ROUTES.asset)).toHaveLength(1);
  });

  it('a refused connection is VenueUnavailable with outcomeKnown: nothing reached the site', async () => {
    const port = await closedPort();
    const error = await failure(client({ baseUrl: `http://127.0.0.1:${port}` }).client.asset());
    expect(error).toBeInstanceOf(VenueUnavailable);
    expect((error as VenueUnavailable).outcomeKnown).toBe(true);
    noSecrets(error);
  });

  it('the validatekey in a page or a text answer never reaches the message', async () => {
    await fake.fault(ROUTES.asset, { kind: 'body', body: `error near ${fake.validatekey} and ${fake.cookie}`, contentType: 'text/plain' });
    const e1 = await failure(client().client.asset());
    expect(e1.message).toMatch(/not JSON/);
    noSecrets(e1);
    await fake.fault(ROUTES.revoke, { kind: 'body', body: `撤单失败 ${fake.validatekey}`, contentType: 'text/plain' });
    const e2 = await failure(client().client.revoke('20251107_1001'));
    expect(e2).toBeInstanceOf(VenueRefused);
    noSecrets(e2);
    await fake.fault(ROUTES.asset, { kind: 'body', body: pageWithKey(), contentType: 'text/html' });
    const e3 = await failure(client().client.asset());
    expect(e3).toBeInstanceOf(VenueHalted);
    noSecrets(e3);
  });

  it('sends the form the way the site reads it: validatekey in the query, cookie, X-Requested-With, form fields', async () => {
    await client().client.asset();
    const [r] = await fake.requests(ROUTES.asset);
    expect(r).toMatchObject({ method: 'POST', validatekeyOk: true, cookieOk: true, xhr: true, form: { moneyType: 'RMB' } });
  });
});

const REFUSALS: readonly { readonly message: string; readonly reason: ReasonCode }[] = [
  { message: '可用资金不足', reason: 'INSUFFICIENT_CASH' },
  { message: '[251005][证券可用数量不足]', reason: 'INSUFFICIENT_POSITION' },
  { message: '可用股份不足，可卖数量0', reason: 'INSUFFICIENT_POSITION' },
  { message: '买入数量必须是100股的整数倍', reason: 'LOT_SIZE' },
  { message: '委托价格超过涨跌幅限制(1350.00-1650.00)', reason: 'PRICE_LIMIT' },
  { message: '委托价格超出价格笼子', reason: 'PRICE_LIMIT' },
  { message: '当前时间不允许委托，非交易时间', reason: 'MARKET_CLOSED' },
  { message: '该股票停牌', reason: 'BROKER_REJECTED' },
];

describe('EastMoney client: submit', () => {
  const form = { stockCode: '600519', market: 'HA', price: '1500.00', amount: 100, tradeType: 'B' } as const;

  it.each(REFUSALS)('Status -1 "$message" -> VenueRefused $reason', async ({ message, reason }) => {
    expect(refusalReason(message)).toBe(reason);
    await fake.fault(ROUTES.submit, { kind: 'body', body: JSON.stringify({ Status: -1, Count: 0, Message: message, Errcode: -1, Data: [] }) });
    const error = await failure(client().client.submit(form));
    expect(error).toBeInstanceOf(VenueRefused);
    expect((error as VenueRefused).reason).toBe(reason);
    expect(error.message).toContain(message);
  });

  it('Status -1 with a login message is the session, not a refusal: VenueHalted', async () => {
    await fake.fault(ROUTES.submit, { kind: 'body', body: JSON.stringify({ Status: -1, Message: '登录超时，请重新登录' }) });
    expect(await failure(client().client.submit(form))).toBeInstanceOf(VenueHalted);
  });

  it('Status 0 without an entrust number is a malformed answer naming the field, the outcome unknown', async () => {
    await fake.fault(ROUTES.submit, { kind: 'body', body: '{"Status":0,"Data":[{}]}', commit: true });
    const error = await failure(client().client.submit(form));
    expect(error).toBeInstanceOf(VenueUnavailable);
    expect((error as VenueUnavailable).outcomeKnown).toBe(false);
    expect(error.message).toMatch(/Data\.0\.Wtbh/);
  });

  it('a submit answered Status 0 gives the entrust number (numbers as strings, or a JSON number)', async () => {
    expect(await client().client.submit(form)).toMatch(/^\d+$/);
    await fake.fault(ROUTES.submit, { kind: 'body', body: '{"Status":"0","Data":[{"Wtbh":4321}]}' });
    expect(await client().client.submit(form)).toBe('4321');
  });
});

describe('EastMoney client: revoke', () => {
  it('"<Wtbh>: 您的撤单委托已提交" is accepted; "撤单失败" and "委托序号与委托人不符" are refusals', async () => {
    const c = client().client;
    await fake.mode({ fill: 'manual' });
    const wtbh = await c.submit({ stockCode: '600519', market: 'HA', price: '1500.00', amount: 100, tradeType: 'B' });
    await c.revoke(`20251107_${wtbh}`);
    const again = await failure(c.revoke(`20251107_${wtbh}`));
    expect(again).toBeInstanceOf(VenueRefused);
    expect(again.message).toContain('撤单失败');
    const unknown = await failure(c.revoke('20251107_999999'));
    expect(unknown).toBeInstanceOf(VenueRefused);
    expect(unknown.message).toContain('委托序号与委托人不符');
  });

  it('a dead session on the revoke route is VenueHalted', async () => {
    await fake.expire('html');
    expect(await failure(client().client.revoke('20251107_1001'))).toBeInstanceOf(VenueHalted);
  });
});

function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}
