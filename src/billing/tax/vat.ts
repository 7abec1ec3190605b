import { RampartError } from '../../core/index.js';
import { EU_VAT_RATES, type VatPeriod } from './eu-vat-rates.js';

/**
 * Which VAT applies to a sale (BI-5): the buyer's and the seller's jurisdictions decide it, never
 * the client. Categories are EN 16931's (UNTDID 5305): S standard, AE reverse charge, E exempt,
 * G export outside the EU, O outside the scope of VAT.
 *
 * - Buyer exempt (a charity, a diplomatic mission; recorded on the customer): E.
 * - EU seller, buyer in the same state: S at that state's rate, B2C and B2B alike.
 * - EU seller, buyer in another state with a VAT id that validates: AE (the buyer self-assesses,
 *   Art. 196 of Directive 2006/112/EC). Without a valid id the sale is B2C.
 * - EU seller, B2C buyer in another state: OSS, the destination state's rate (digital services
 *   and distance sales since 2021-07-01), unless the seller stays under the EUR 10,000 threshold
 *   and opted out (`ossDestination: false`), then the seller's state rate.
 * - Buyer outside the EU: G (zero-rated export), unless the tenant registered there and the
 *   configurable non-EU table has a rate for that country (e.g. GB, NO, CH), then S at it.
 * - Non-EU seller: the non-EU table's rate for a domestic sale, O otherwise.
 */

export type VatCategory = 'S' | 'AE' | 'E' | 'G' | 'O';
export type VatDecision = { category: VatCategory; rate: string; country: string | null; note: string };

export type Party = { country: string; vatId?: string | null };
export type TaxContext = {
  seller: Party;
  buyer: Party & { isBusiness: boolean; exempt: boolean };
  date: Date;
  /** Country code -> standard rate (percent string) where the tenant is registered outside the EU. */
  nonEuRates?: Readonly<Record<string, string>>;
  /** OSS destination-country VAT for B2C cross-border sales (default true). */
  ossDestination?: boolean;
};

export const EU_COUNTRIES: ReadonlySet<string> = new Set(Object.keys(EU_VAT_RATES));
export const isEu = (country: string) => EU_COUNTRIES.has(country);

/** The standard rate of an EU state on a date: the latest period that started on or before it. */
export function euStandardRate(country: string, date: Date, table: Readonly<Record<string, readonly VatPeriod[]>> = EU_VAT_RATES): string {
  const periods = table[country];
  if (!periods) throw new RampartError('validation_failed', { detail: `${country} is not an EU member state`, issues: [{ pointer: '/country', message: 'an EU member state' }] });
  const day = date.toISOString().slice(0, 10);
  const current = [...periods].filter((p) => p.effectiveFrom <= day).sort((a, b) => (a.effectiveFrom < b.effectiveFrom ? -1 : 1)).at(-1);
  if (!current) throw new RampartError('validation_failed', { detail: `no VAT rate for ${country} on ${day}` });
  return current.standard;
}

/**
 * VAT id formats per member state (syntax only; an online VIES check is the operator's choice and
 * is recorded as `tax_id_verified`). Prefix is the state code, Greece uses EL.
 */
const VAT_ID_FORMATS: Record<string, RegExp> = {
  AT: /^ATU\d{8}$/,
  BE: /^BE[01]\d{9}$/,
  BG: /^BG\d{9,10}$/,
  CY: /^CY\d{8}[A-Z]$/,
  CZ: /^CZ\d{8,10}$/,
  DE: /^DE\d{9}$/,
  DK: /^DK\d{8}$/,
  EE: /^EE\d{9}$/,
  GR: /^EL\d{9}$/,
  ES: /^ES[A-Z0-9]\d{7}[A-Z0-9]$/,
  FI: /^FI\d{8}$/,
  FR: /^FR[0-9A-HJ-NP-Z]{2}\d{9}$/,
  HR: /^HR\d{11}$/,
  HU: /^HU\d{8}$/,
  IE: /^IE\d{7}[A-W][A-I]?$|^IE\d[A-Z+*]\d{5}[A-W]$/,
  IT: /^IT\d{11}$/,
  LT: /^LT(\d{9}|\d{12})$/,
  LU: /^LU\d{8}$/,
  LV: /^LV\d{11}$/,
  MT: /^MT\d{8}$/,
  NL: /^NL\d{9}B\d{2}$/,
  PL: /^PL\d{10}$/,
  PT: /^PT\d{9}$/,
  RO: /^RO[1-9]\d{1,9}$/,
  SE: /^SE\d{10}01$/,
  SI: /^SI\d{8}$/,
  SK: /^SK\d{10}$/,
};

/** Spaces, dots and dashes are typed by people; the canonical form has none. */
export const normalizeVatId = (vatId: string): string => vatId.toUpperCase().replace(/[\s.-]/g, '');

/** True when `vatId` has the format of `country`'s VAT ids (EL for Greece). */
export function isValidVatIdFormat(country: string, vatId: string): boolean {
  const format = VAT_ID_FORMATS[country];
  return Boolean(format && format.test(normalizeVatId(vatId)));
}

export function decideVat(context: TaxContext): VatDecision {
  const { seller, buyer, date } = context;
  const nonEu = context.nonEuRates ?? {};
  if (buyer.exempt) return { category: 'E', rate: '0', country: buyer.country, note: 'Exempt from VAT (customer exemption on file)' };
  if (isEu(seller.country)) {
    if (buyer.country === seller.country) return { category: 'S', rate: euStandardRate(seller.country, date), country: seller.country, note: buyer.isBusiness ? 'Domestic B2B' : 'Domestic B2C' };
    if (isEu(buyer.country)) {
      const validId = Boolean(buyer.isBusiness && buyer.vatId && isValidVatIdFormat(buyer.country, buyer.vatId));
      if (validId) return { category: 'AE', rate: '0', country: buyer.country, note: 'Reverse charge: VAT to be accounted for by the recipient (Art. 196 Directive 2006/112/EC)' };
      if (context.ossDestination ?? true) return { category: 'S', rate: euStandardRate(buyer.country, date), country: buyer.country, note: 'OSS: VAT of the member state of consumption' };
      return { category: 'S', rate: euStandardRate(seller.country, date), country: seller.country, note: 'Cross-border B2C under the OSS threshold: seller state VAT' };
    }
    const registered = nonEu[buyer.country];
    if (registered !== undefined) return { category: 'S', rate: registered, country: buyer.country, note: `VAT/GST of ${buyer.country} (registered there)` };
    return { category: 'G', rate: '0', country: buyer.country, note: 'Export outside the EU: zero-rated' };
  }
  const domestic = nonEu[seller.country];
  if (buyer.country === seller.country && domestic !== undefined) return { category: 'S', rate: domestic, country: seller.country, note: `Domestic VAT/GST of ${seller.country}` };
  const foreign = nonEu[buyer.country];
  if (foreign !== undefined) return { category: 'S', rate: foreign, country: buyer.country, note: `VAT/GST of ${buyer.country} (registered there)` };
  return { category: 'O', rate: '0', country: null, note: 'Outside the scope of VAT for this seller' };
}
