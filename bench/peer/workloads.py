"""
backtrader (1.9.78, pure Python) side of issue 20's four workloads, on the same bars as
bench/workloads.ts: test/fixtures/ai-trader/us/nasdaq100_60min.jsonl (101 symbols x 174
hourly bars), 10k USD (1M for eq-1m), cash kept as min_cash_reserve 1000 and a 1% buffer.

Provenance: written for this repository (bench/peer/README.md) as ports of our rules agents,
src/actors/agents/rules-agent.ts (equal_weight; momentum = close / close `lookback` bars
earlier - 1, best `top_n`, ties by symbol) and src/actors/agents/rebalance.ts (targets
floor(I x w / (sum w x price)), band `threshold` x equity, entering/leaving always trade,
sells first, buys most under-weight first and cut to cash); the replay reads the AI-Trader
log's actions (agent-logs/us-60min.gpt-5) and places them at the record's bar. Orders fill
at the next bar's open (backtrader's default), as our sessions at hh:05 fill at the bar
labelled hh:00. Not a byte-for-byte port: the trades match ours "within a few orders".

  python3 bench/peer/workloads.py [name...]      # replay eq+mom 7-rules eq-1m
"""
import json
import os
import resource
import sys
import time
from datetime import datetime

import backtrader as bt

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, '..', '..', 'test', 'fixtures', 'ai-trader')
BARS = os.path.join(DATA, 'us', 'nasdaq100_60min.jsonl')
LOG = os.path.join(DATA, 'agent-logs', 'us-60min.gpt-5.position.jsonl')


def load_bars():
    out = {}
    with open(BARS) as f:
        for line in f:
            d = json.loads(line)
            symbol = d['Meta Data']['2. Symbol']
            rows = []
            for ts, b in d['Time Series (60min)'].items():
                rows.append((datetime.strptime(ts, '%Y-%m-%d %H:%M:%S'), float(b['1. buy price']), float(b['2. high']),
                             float(b['3. low']), float(b['4. sell price']), float(b['5. volume'])))
            out[symbol] = sorted(rows)
    return out


class ListFeed(bt.feed.DataBase):
    """A feed over an in-memory list of (datetime, open, high, low, close, volume)."""
    params = (('rows', None),)

    def start(self):
        super().start()
        self._i = 0

    def _load(self):
        rows = self.p.rows
        if self._i >= len(rows):
            return False
        dt, o, h, l, c, v = rows[self._i]
        self._i += 1
        self.lines.datetime[0] = bt.date2num(dt)
        self.lines.open[0], self.lines.high[0], self.lines.low[0], self.lines.close[0] = o, h, l, c
        self.lines.volume[0] = v
        self.lines.openinterest[0] = 0
        return True


class Rebalance(bt.Strategy):
    """Equal weight or momentum, rebalanced every bar like our rules agent's sessions."""
    params = (('strategy', 'equal_weight'), ('lookback', 5), ('top_n', 5), ('threshold', 0.05),
              ('cash_buffer', 0.01), ('min_cash', 1000.0), ('fee_allowance', 0.003), ('max_orders', 10))

    def next(self):
        datas = sorted(self.datas, key=lambda d: d._name)
        if self.p.strategy == 'equal_weight':
            weights = {d._name: 1.0 for d in datas}
        else:
            ranked = []
            for d in datas:
                if len(d) < self.p.lookback + 1 or d.close[-self.p.lookback] <= 0:
                    continue
                ranked.append((-(d.close[0] / d.close[-self.p.lookback] - 1), d._name))
            if not ranked:
                return
            weights = {s: 1.0 for _, s in sorted(ranked)[:self.p.top_n]}
        by = {d._name: d for d in datas}
        cash = self.broker.getcash()
        equity = cash + sum(self.getposition(d).size * d.close[0] for d in datas)
        investable = max(0.0, min(equity * (1 - self.p.cash_buffer), equity - self.p.min_cash))
        total = sum(weights.values())
        band = equity * self.p.threshold
        sells, buys = [], []
        for s in sorted(set(weights) | {d._name for d in datas if self.getposition(d).size > 0}):
            d = by[s]
            price = d.close[0]
            held = self.getposition(d).size
            w = weights.get(s, 0.0)
            target_value = investable * w / total if w > 0 else 0.0
            target = int(target_value // price) if price > 0 else 0
            entering, leaving = held == 0 and target > 0, w == 0 and held > 0
            if not entering and not leaving and abs(held * price - target_value) <= band:
                continue
            if target < held:
                sells.append((s, held - target))
            elif target > held:
                buys.append((-(target_value - held * price), s, target - held, price))
        available = cash - (equity - investable) + sum(by[s].close[0] * q * (1 - self.p.fee_allowance) for s, q in sells)
        n = 0
        for s, q in sells:
            if n >= self.p.max_orders:
                return
            self.sell(data=by[s], size=q)
            n += 1
        for _, s, q, price in sorted(buys):
            if n >= self.p.max_orders:
                return
            q = min(q, int(available // (price * (1 + self.p.fee_allowance))))
            if q <= 0:
                continue
            available -= q * price * (1 + self.p.fee_allowance)
            self.buy(data=by[s], size=q)
            n += 1


class Replay(bt.Strategy):
    """The recorded AI-Trader run: each buy/sell action at its record's bar."""

    def __init__(self):
        self.actions = {}
        with open(LOG) as f:
            for line in f:
                r = json.loads(line)
                a = r.get('this_action') or {}
                if a.get('action') in ('buy', 'sell') and a.get('amount', 0) > 0:
                    self.actions.setdefault(r['date'], []).append(a)
        self.by = {d._name: d for d in self.datas}

    def next(self):
        now = self.datas[0].datetime.datetime(0).strftime('%Y-%m-%d %H:%M:%S')
        for a in self.actions.get(now, []):
            d = self.by.get(a['symbol'])
            if d is None:
                continue
            (self.buy if a['action'] == 'buy' else self.sell)(data=d, size=a['amount'])


def agents_of(name):
    eq, mom = dict(strategy='equal_weight'), dict(strategy='momentum')
    if name == 'eq+mom':
        return 10_000, [eq, dict(mom, lookback=6, top_n=5)]
    if name == '7-rules':
        return 10_000, [eq, dict(eq, threshold=0.02), dict(eq, threshold=0.1), dict(mom, lookback=6, top_n=5),
                        dict(mom, lookback=3, top_n=3), dict(mom, lookback=12, top_n=10), dict(mom, lookback=24, top_n=20)]
    if name == 'eq-1m':
        return 1_000_000, [dict(eq, threshold=0.0, max_orders=200)]
    raise SystemExit(f'no workload {name}')


class Count(bt.Analyzer):
    def start(self):
        self.orders = 0

    def notify_order(self, order):
        if order.status == order.Submitted:
            self.orders += 1

    def get_analysis(self):
        return self.orders


def run_one(bars, cash, strategy, params):
    """One agent is one Cerebro (one account), as each of our signatures has its own."""
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.broker.setcash(cash)
    for symbol, rows in bars.items():
        cerebro.adddata(ListFeed(rows=rows), name=symbol)
    cerebro.addstrategy(strategy, **params)
    cerebro.addanalyzer(Count, _name='count')
    return cerebro.run()[0].analyzers.count.get_analysis()


def main():
    names = sys.argv[1:] or ['replay', 'eq+mom', '7-rules', 'eq-1m']
    bars = load_bars()
    for name in names:
        t0 = time.perf_counter()
        if name == 'replay':
            orders = run_one(bars, 10_000, Replay, {})
            agents = 1
        else:
            cash, specs = agents_of(name)
            orders = sum(run_one(bars, cash, Rebalance, spec) for spec in specs)
            agents = len(specs)
        wall = time.perf_counter() - t0
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps({'name': name, 'wallS': round(wall, 3), 'orders': orders, 'sessions': agents * 174,
                          'ordersPerS': round(orders / wall), 'peakRssMb': round(rss)}))


if __name__ == '__main__':
    main()
