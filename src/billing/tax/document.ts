import { allocate, parseRate, roundDiv, sum, type Rate } from '../money/index.js';
import type { VatCategory } from './vat.js';

/**
 * Totals of one document (invoice or credit note) as EN 16931 computes them (BI-5):
 *
 * 1. Discounts come first: a document discount is spread over the discountable lines in
 *    proportion to their amounts (`allocate`, so no minor unit appears or vanishes).
 * 2. Lines are grouped by VAT category, rate and tax behaviour. For each group the VAT is
 *    computed once on the group's sum (exclusive: net × rate; inclusive: gross × rate / (1 +
 *    rate)), rounded once, half away from zero. A jurisdiction that requires per-line rounding
 *    sets `perLineRounding`, and the group's VAT is then the sum of the rounded line VATs.
 * 3. Each line also shows its share of the group's VAT (its own rounded VAT, with the group's
 *    rounding difference put on its largest line), so lines, breakdown and totals add up exactly:
 *      Σ line.net = Σ breakdown.taxable = taxable_total
 *      Σ line.tax = Σ breakdown.tax = tax_total
 *      Σ line.gross = total = taxable_total + tax_total = subtotal − discount_total + exclusive VAT
 */

export type TaxBehavior = 'exclusive' | 'inclusive';

export type DocumentLineInput = {
  /** As priced: net for exclusive lines, gross for inclusive ones. May be negative (proration credit). */
  amount: bigint;
  taxBehavior: TaxBehavior;
  category: VatCategory;
  /** Percent as a decimal string ("20", "5.5"). */
  rate: string;
  discountable?: boolean;
};

export type Discount = { percentBasisPoints?: number; amountOff?: bigint; cap?: bigint | null };

export type DocumentLine = DocumentLineInput & { discount: bigint; net: bigint; tax: bigint; gross: bigint };
export type BreakdownRow = { category: VatCategory; rate: string; taxBehavior: TaxBehavior; taxable: bigint; tax: bigint };

export type DocumentTotals = {
  lines: DocumentLine[];
  breakdown: BreakdownRow[];
  subtotal: bigint;
  discountTotal: bigint;
  taxableTotal: bigint;
  taxTotal: bigint;
  total: bigint;
};

/** The discount on the discountable base: percent (basis points) or a fixed amount, never above the base or the tenant's cap. */
export function discountAmount(base: bigint, discount: Discount | null | undefined): bigint {
  if (!discount || base <= 0n) return 0n;
  let amount = discount.percentBasisPoints !== undefined ? roundDiv(base * BigInt(discount.percentBasisPoints), 10_000n) : (discount.amountOff ?? 0n);
  if (amount > base) amount = base;
  if (discount.cap !== undefined && discount.cap !== null && amount > discount.cap) amount = discount.cap;
  return amount < 0n ? 0n : amount;
}

const lineTax = (amount: bigint, rate: Rate, behavior: TaxBehavior) => (behavior === 'exclusive' ? roundDiv(amount * rate.num, rate.den) : roundDiv(amount * rate.num, rate.den + rate.num));

export function computeDocument({ lines, discount, perLineRounding = false }: { lines: readonly DocumentLineInput[]; discount?: Discount | null; perLineRounding?: boolean }): DocumentTotals {
  const discountable = lines.map((line) => (line.discountable !== false && line.amount > 0n ? line.amount : 0n));
  const discountTotal = discountAmount(sum(discountable), discount);
  const shares = allocate(discountTotal, discountable);
  const after = lines.map((line, index) => line.amount - shares[index]!);

  const groups = new Map<string, number[]>();
  lines.forEach((line, index) => {
    const key = `${line.category}|${parseRateKey(line.rate)}|${line.taxBehavior}`;
    groups.set(key, [...(groups.get(key) ?? []), index]);
  });

  const taxes = lines.map(() => 0n);
  const breakdown: BreakdownRow[] = [];
  for (const indexes of groups.values()) {
    const first = lines[indexes[0]!]!;
    const rate = parseRate(first.rate);
    const amounts = indexes.map((i) => after[i]!);
    const perLine = amounts.map((a) => lineTax(a, rate, first.taxBehavior));
    const groupTax = perLineRounding ? sum(perLine) : lineTax(sum(amounts), rate, first.taxBehavior);
    // The group's rounding difference goes to its largest line, so lines add up to the group.
    const difference = groupTax - sum(perLine);
    if (difference !== 0n) {
      let largest = 0;
      amounts.forEach((a, k) => {
        if (abs(a) > abs(amounts[largest]!)) largest = k;
      });
      perLine[largest]! += difference;
    }
    indexes.forEach((i, k) => (taxes[i] = perLine[k]!));
    const taxable = first.taxBehavior === 'exclusive' ? sum(amounts) : sum(amounts) - groupTax;
    breakdown.push({ category: first.category, rate: parseRateKey(first.rate), taxBehavior: first.taxBehavior, taxable, tax: groupTax });
  }

  const out: DocumentLine[] = lines.map((line, index) => {
    const tax = taxes[index]!;
    const net = line.taxBehavior === 'exclusive' ? after[index]! : after[index]! - tax;
    return { ...line, discount: shares[index]!, net, tax, gross: net + tax };
  });
  const taxableTotal = sum(breakdown.map((b) => b.taxable));
  const taxTotal = sum(breakdown.map((b) => b.tax));
  return { lines: out, breakdown, subtotal: sum(lines.map((l) => l.amount)), discountTotal, taxableTotal, taxTotal, total: taxableTotal + taxTotal };
}

const abs = (value: bigint) => (value < 0n ? -value : value);

/** "20.0" and "20" are one group: the key is the canonical percent. */
function parseRateKey(rate: string): string {
  parseRate(rate);
  return rate.includes('.') ? rate.replace(/0+$/, '').replace(/\.$/, '') : rate;
}
