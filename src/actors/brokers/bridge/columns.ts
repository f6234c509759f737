/**
 * The bridge's answers are the terminal's own tables (easytrader copies the grid of the
 * client's 资金股票 / 当日委托 / 当日成交 pages, or miniQMT's xtquant objects), so each client
 * names its columns its own way: 合同编号 or 委托编号, 股票余额 or 当前持仓, 备注 or 委托状态.
 * One TABLE per answer maps our field to the column names met in the wild, first match wins;
 * adding a client is adding names here, not code.
 *
 * Values come as JSON numbers (pandas parsed the grid) or strings (a grid kept as text, another
 * bridge): decimals stay exact (a string is kept as given; a number is read back as the
 * shortest decimal that round-trips, which is what Python's json wrote), quantities must be
 * whole. A value that is neither is a malformed answer: BridgeAnswerError names the route, the
 * row, our field and the column, never crashes the caller.
 */
import { dec } from '../../../domain/money.js';
import { VenueUnavailable } from '../venue-adapter.js';

export type Aliases<F extends string> = Readonly<Record<F, readonly string[]>>;

/** GET /balance: one object (the terminal's 资金股票 page) or a list of one per currency (miniQMT, some grids). */
export const BALANCE_COLUMNS = {
  cash: ['资金余额', '当前余额', '余额', '资金余额(元)'],
  available: ['可用金额', '可用资金', '可用余额', '可用', 'cash'],
  frozen: ['冻结金额', '冻结资金', 'frozen_cash'],
  total: ['总资产', '资产总值', '总资金', 'total_asset'],
  marketValue: ['股票市值', '参考市值', '证券市值', '最新市值', 'market_value'],
  currency: ['币种', 'currency'],
} as const satisfies Aliases<string>;

/** GET /position. */
export const POSITION_COLUMNS = {
  code: ['证券代码', '股票代码', '代码', 'stock_code', 'security'],
  market: ['交易市场', '市场', '市场名称'],
  quantity: ['股票余额', '当前持仓', '持仓数量', '实际数量', '证券数量', '参考持股', '持股数量', '当前数量', '股份余额', 'volume'],
  sellable: ['可用余额', '可用数量', '可卖数量', '股份可用', '可用股份', 'can_use_volume'],
} as const satisfies Aliases<string>;

/** GET /today_entrusts. */
export const ENTRUST_COLUMNS = {
  // The number /buy answered and /cancel_entrust takes: THS's 合同编号, miniQMT's order_id.
  entrustNo: ['合同编号', '委托编号', '委托序号', '申请编号', '委托号', 'order_id', 'entrust_no'],
  code: ['证券代码', '股票代码', '代码', 'stock_code', 'security'],
  market: ['交易市场', '市场', '市场名称'],
  side: ['操作', '买卖标志', '委托方向', '买卖方向', '买卖类别', '委托类别', '业务名称', 'order_type_name', 'offset_flag_name', 'order_type'],
  quantity: ['委托数量', '申报数量', '委托股数', 'order_volume'],
  filled: ['成交数量', '已成交数量', '成交股数', 'traded_volume'],
  cancelledQuantity: ['撤单数量', '已撤数量', '撤销数量'],
  price: ['委托价格', '申报价格', '委托价', 'price'],
  avgFillPrice: ['成交均价', '成交价格', '平均成交价', 'traded_price'],
  status: ['备注', '委托状态', '状态说明', '状态', '订单状态', 'order_status_name', 'order_status'],
  message: ['废单原因', '说明', '返回信息', 'status_msg'],
  date: ['委托日期', '日期', '申报日期'],
  time: ['委托时间', '申报时间', '时间', 'order_time'],
} as const satisfies Aliases<string>;

/** GET /today_trades. */
export const TRADE_COLUMNS = {
  dealNo: ['成交编号', '成交序号', '成交号', 'traded_id'],
  entrustNo: ['合同编号', '委托编号', '委托序号', '申请编号', '委托号', 'order_id'],
  code: ['证券代码', '股票代码', '代码', 'stock_code', 'security'],
  side: ['操作', '买卖标志', '委托方向', '买卖方向', '买卖类别', '委托类别', '业务名称', 'order_type_name', 'offset_flag_name', 'order_type'],
  quantity: ['成交数量', '成交股数', 'traded_volume'],
  price: ['成交价格', '成交均价', '成交价', 'traded_price'],
  date: ['成交日期', '日期'],
  time: ['成交时间', '时间', 'traded_time'],
} as const satisfies Aliases<string>;

/** A body that is not what the route answers: which route, row and field, and what came. */
export class BridgeAnswerError extends VenueUnavailable {
  constructor(message: string) {
    super(message, false);
  }
}

const DECIMAL = /^-?\d+(\.\d+)?$/;
const WHOLE = /^-?\d+(\.0+)?$/;

/** Reads one row of an answer through its alias table. */
export class RowReader<F extends string> {
  constructor(
    private readonly row: Readonly<Record<string, unknown>>,
    private readonly columns: Aliases<F>,
    /** "GET /today_entrusts row 3" */
    private readonly where: string,
  ) {}

  /** The first column of `field` present with a value ('' and null count as absent: pandas' empty cells). */
  raw(field: F): { readonly column: string; readonly value: unknown } | undefined {
    for (const column of this.columns[field]) {
      const value = this.row[column];
      if (value !== undefined && value !== null && value !== '') return { column, value };
    }
    return undefined;
  }

  has(field: F): boolean {
    return this.raw(field) !== undefined;
  }

  text(field: F): string {
    const v = this.#required(field);
    if (typeof v.value === 'string') return v.value.trim();
    if (typeof v.value === 'number' && Number.isFinite(v.value)) return String(v.value);
    throw this.#bad(field, v, 'expected a text or a number');
  }

  optionalText(field: F): string | undefined {
    return this.has(field) ? this.text(field) : undefined;
  }

  /** A decimal string: a string as given (trimmed), a number as its shortest round-trip decimal. */
  decimal(field: F): string {
    const v = this.#required(field);
    if (typeof v.value === 'number' && Number.isFinite(v.value)) return dec(v.value).toFixed();
    if (typeof v.value === 'string' && DECIMAL.test(v.value.trim())) return v.value.trim();
    throw this.#bad(field, v, 'expected a decimal number');
  }

  optionalDecimal(field: F): string | undefined {
    return this.has(field) ? this.decimal(field) : undefined;
  }

  /** A whole number of shares (1000, 1000.0, "1000"); 100.5 is refused, never rounded. */
  integer(field: F): number {
    const v = this.#required(field);
    if (typeof v.value === 'number' && Number.isSafeInteger(v.value)) return v.value;
    if (typeof v.value === 'string' && WHOLE.test(v.value.trim())) {
      const n = Number(v.value.trim());
      if (Number.isSafeInteger(n)) return n;
    }
    throw this.#bad(field, v, 'expected a whole number of shares');
  }

  optionalInteger(field: F): number | undefined {
    return this.has(field) ? this.integer(field) : undefined;
  }

  /** The value as it came, for the time readers (times.ts). */
  value(field: F): { readonly column: string; readonly value: unknown } {
    return this.#required(field);
  }

  /** An error about `field` (a value our tables do not know). */
  error(field: F, detail: string): BridgeAnswerError {
    const v = this.raw(field);
    return v ? this.#bad(field, v, detail) : this.#missing(field);
  }

  #required(field: F): { readonly column: string; readonly value: unknown } {
    const v = this.raw(field);
    if (v === undefined) throw this.#missing(field);
    return v;
  }

  #missing(field: F): BridgeAnswerError {
    return new BridgeAnswerError(`the terminal bridge ${this.where}: no ${field} (expected a column ${this.columns[field].join(' / ')}; the row has ${Object.keys(this.row).join(', ') || 'no columns'})`);
  }

  #bad(field: F, v: { column: string; value: unknown }, detail: string): BridgeAnswerError {
    return new BridgeAnswerError(`the terminal bridge ${this.where}: ${v.column} (${field}): ${detail}, got ${JSON.stringify(v.value)?.slice(0, 60) ?? String(v.value)}`);
  }
}

/** The rows of a list answer; anything but a list of objects names the route. */
export function rowsOf(answer: unknown, where: string): Record<string, unknown>[] {
  if (!Array.isArray(answer)) throw new BridgeAnswerError(`the terminal bridge ${where}: expected a list of rows, got ${describe(answer)}`);
  return answer.map((row, i) => {
    if (!isRecord(row)) throw new BridgeAnswerError(`the terminal bridge ${where} row ${i}: expected an object, got ${describe(row)}`);
    return row;
  });
}

export function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

export function describe(x: unknown): string {
  if (Array.isArray(x)) return 'a list';
  if (x === null) return 'null';
  return typeof x === 'object' ? 'an object' : `${typeof x} ${JSON.stringify(x)?.slice(0, 60)}`;
}
