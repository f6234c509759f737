/** The backtest report: metrics, report.json, report.html and the text table. */
export * from './types.js';
export * from './metrics.js';
export { buildReport, moneyString, type BuildReportOptions } from './build.js';
export { renderReportHtml, escapeHtml } from './html.js';
export { formatReportTable } from './table.js';
export { writeReport, readReport, REPORT_JSON, REPORT_HTML } from './io.js';
export { loadBenchmark, benchmarkFromBars, type LoadBenchmarkOptions } from './benchmark.js';
