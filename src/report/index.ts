/** The backtest report: metrics, report.json, report.html and the text table. */
export * from './types.js';
export * from './metrics.js';
export { buildReport, moneyString, type BuildReportOptions } from './build.js';
export { renderReportHtml, escapeHtml, wrappable, TRADE_LIST_MAX } from './html.js';
export { formatReportTable } from './table.js';
export { writeReport, readReport, REPORT_JSON, REPORT_HTML } from './io.js';
export { loadBenchmark, benchmarkFromBars, type LoadBenchmarkOptions } from './benchmark.js';
export { roundTrips, tradeStats, symbolStats, tradedValue, type RoundTrip, type TradeStats, type SymbolStats } from './trades.js';
export { withRunDetails, ledgerFills, llmUsage, type RunDetailsOptions } from './collect.js';
