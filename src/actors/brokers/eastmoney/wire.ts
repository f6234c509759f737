/**
 * EastMoney's web trading answers (jywg.18.cn), as its own pages' scripts read them. Field
 * names are the site's pinyin initials; numbers come as STRINGS ("100", "1700.00") and are
 * kept as text (quantities are parsed to integers where we use them). Objects are loose: the
 * site sends many more fields than we read, and a new one must not break us.
 *
 * Confirmed in public clients (Go yzlq99/eastmoneyapi, Java linhs/stock and bebopze/tdx-quant,
 * Python and TypeScript scripts): SubmitTradeV2's form (stockCode, price, amount, tradeType,
 * market, zqmc) and `{Status, Message, Data:[{Wtbh}]}`; RevokeOrders' `revokes=<Wtrq>_<Wtbh>`
 * and its plain-text answer "<Wtbh>: 您的撤单委托已提交..." / "撤单失败，..."; GetOrdersData's
 * Wtbh, Wtrq, Wtsj, Zqdm, Zqmc, Mmsm, Mmlb, Wtsl, Wtjg, Cjsl, Cjjg, Wtzt, Market;
 * GetDealData's Cjbh, Wtbh, Zqdm, Cjsl, Cjjg, Cjsj, Mmlb, Market (Cjrq on the history);
 * queryAssetAndPositionV1's Data[0] {Zzc, Kyzj, Zjye, Kqzj, Djzj, Zxsz, positions[{Zqdm, Zqmc,
 * Market, Zqsl, Kysl, Cbjg, Zxjg}]}. `Status` is a number on most routes but was seen as a
 * string ("0", "-1"): both are read.
 *
 * ASSUMED (not confirmed): the paging of the lists (`qqhs` rows per page, `dwc` the cursor the
 * previous page's last row carries in `Dwc`); Status -2 for an expired session.
 */
import { z } from 'zod';

/** A number the site may send as text or as a JSON number: kept as text. */
const text = z.union([z.string(), z.number()]).transform((v) => String(v).trim());
const optionalText = text.optional();

/** Every JSON answer's envelope. */
export const EnvelopeSchema = z.looseObject({
  Status: text,
  Message: z.string().nullish(),
  Errcode: z.union([z.string(), z.number()]).nullish(),
});

export const SubmitAnswerSchema = z.looseObject({
  Status: text,
  Message: z.string().nullish(),
  Data: z.array(z.looseObject({ Wtbh: text })).min(1, { error: 'expected one entrust (Wtbh)' }),
});

export const WireOrderSchema = z.looseObject({
  Wtbh: text,
  Zqdm: text,
  Zqmc: optionalText,
  /** B | S (some pages: 0B / 1S); Mmsm the words (证券买入 / 证券卖出). */
  Mmlb: optionalText,
  Mmsm: optionalText,
  Wtsl: text,
  Cjsl: text.default('0'),
  Wtjg: optionalText,
  Cjjg: optionalText,
  Wtzt: text,
  /** HHmmss, yyyyMMdd (exchange time, Asia/Shanghai). */
  Wtsj: optionalText,
  Wtrq: optionalText,
  Market: optionalText,
  Dwc: optionalText,
});
export type WireOrder = z.output<typeof WireOrderSchema>;

export const WireDealSchema = z.looseObject({
  Cjbh: text,
  Wtbh: text,
  Zqdm: text,
  Cjsl: text,
  Cjjg: text,
  Cjsj: optionalText,
  Cjrq: optionalText,
  Mmlb: optionalText,
  Market: optionalText,
  Dwc: optionalText,
});
export type WireDeal = z.output<typeof WireDealSchema>;

export const ListAnswerSchema = <T extends z.ZodType>(row: T) =>
  z.looseObject({
    Status: text,
    Message: z.string().nullish(),
    Data: z.array(row).nullish().transform((d) => d ?? []),
  });

export const WirePositionSchema = z.looseObject({
  Zqdm: text,
  Zqmc: optionalText,
  Market: optionalText,
  Zqsl: text,
  Kysl: text,
  Cbjg: optionalText,
  Zxjg: optionalText,
});
export type WirePosition = z.output<typeof WirePositionSchema>;

export const WireAssetSchema = z.looseObject({
  /** 总资产 total assets. */
  Zzc: optionalText,
  /** 可用资金 available: what a buy may spend now (open buys already held back). */
  Kyzj: text,
  /** 资金余额 cash balance, frozen included (not on every deployment: then Kyzj + Djzj). */
  Zjye: optionalText,
  /** 冻结资金 frozen by open buys. */
  Djzj: optionalText,
  /** 可取资金 withdrawable. */
  Kqzj: optionalText,
  /** 最新市值 market value of the positions. */
  Zxsz: optionalText,
  positions: z.array(WirePositionSchema).nullish().transform((p) => p ?? []),
});
export type WireAsset = z.output<typeof WireAssetSchema>;

export const AssetAnswerSchema = z.looseObject({
  Status: text,
  Message: z.string().nullish(),
  Data: z.array(WireAssetSchema).min(1, { error: 'expected the account (one row)' }),
});
