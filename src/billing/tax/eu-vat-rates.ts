/**
 * EU VAT rates per member state with effective dates. GENERATED from ibericode/vat-rates
 * (https://github.com/ibericode/vat-rates, commit 5abb1e1be91faa42d21c743c603a0aec9b5bab70, vat-rates.json version 4),
 * MIT licence, Copyright 2019 Danny van Kooten; see ./ATTRIBUTION.md. Do not edit by hand:
 * update by regenerating from a newer upstream file (docs/billing.md, "Updating VAT rates").
 * Rates are percent as decimal strings (never floats near money). Greece is keyed GR here (ISO
 * 3166); its VAT ids use the prefix EL.
 */
export type VatPeriod = { effectiveFrom: string; standard: string; reduced: string[] };

export const EU_VAT_SOURCE = { repository: 'ibericode/vat-rates', commit: '5abb1e1be91faa42d21c743c603a0aec9b5bab70', licence: 'MIT' } as const;

export const EU_VAT_RATES: Readonly<Record<string, readonly VatPeriod[]>> = {
  AT: [{ effectiveFrom: '0000-01-01', standard: '20', reduced: ['10', '12'] }, { effectiveFrom: '2016-01-01', standard: '20', reduced: ['10', '13'] }],
  BE: [{ effectiveFrom: '0000-01-01', standard: '21', reduced: ['6', '12'] }],
  BG: [{ effectiveFrom: '0000-01-01', standard: '20', reduced: ['9'] }],
  HR: [{ effectiveFrom: '0000-01-01', standard: '25', reduced: ['5', '13'] }],
  CY: [{ effectiveFrom: '0000-01-01', standard: '19', reduced: ['5', '9'] }],
  CZ: [{ effectiveFrom: '0000-01-01', standard: '21', reduced: ['10', '15'] }, { effectiveFrom: '2024-01-01', standard: '21', reduced: ['12'] }],
  DK: [{ effectiveFrom: '0000-01-01', standard: '25', reduced: [] }],
  EE: [{ effectiveFrom: '0000-01-01', standard: '20', reduced: ['9'] }, { effectiveFrom: '2024-01-01', standard: '22', reduced: ['5', '9'] }, { effectiveFrom: '2025-01-01', standard: '22', reduced: ['9', '13'] }, { effectiveFrom: '2025-07-01', standard: '24', reduced: ['9', '13'] }],
  FI: [{ effectiveFrom: '0000-01-01', standard: '24', reduced: ['10', '14'] }, { effectiveFrom: '2024-09-01', standard: '25.5', reduced: ['10', '14'] }],
  FR: [{ effectiveFrom: '0000-01-01', standard: '19.6', reduced: ['2.1', '5.5'] }, { effectiveFrom: '2012-01-01', standard: '19.6', reduced: ['2.1', '5.5', '7'] }, { effectiveFrom: '2014-01-01', standard: '20', reduced: ['2.1', '5.5', '10'] }],
  DE: [{ effectiveFrom: '0000-01-01', standard: '19', reduced: ['7'] }, { effectiveFrom: '2020-07-01', standard: '16', reduced: ['5'] }, { effectiveFrom: '2021-01-01', standard: '19', reduced: ['7'] }],
  GR: [{ effectiveFrom: '0000-01-01', standard: '23', reduced: ['6.5', '13'] }, { effectiveFrom: '2016-01-01', standard: '23', reduced: ['6', '13.5'] }, { effectiveFrom: '2016-06-01', standard: '24', reduced: ['6', '13'] }],
  HU: [{ effectiveFrom: '0000-01-01', standard: '27', reduced: ['5', '18'] }],
  IE: [{ effectiveFrom: '0000-01-01', standard: '23', reduced: ['4.8', '9', '13.5'] }, { effectiveFrom: '2020-09-01', standard: '21', reduced: ['4.8', '9', '13.5'] }, { effectiveFrom: '2021-03-01', standard: '23', reduced: ['4.8', '9', '13.5'] }],
  IT: [{ effectiveFrom: '0000-01-01', standard: '22', reduced: ['4', '5', '10'] }],
  LV: [{ effectiveFrom: '0000-01-01', standard: '21', reduced: ['5', '12'] }],
  LT: [{ effectiveFrom: '0000-01-01', standard: '21', reduced: ['5', '9'] }],
  LU: [{ effectiveFrom: '0000-01-01', standard: '15', reduced: ['3', '6', '12'] }, { effectiveFrom: '2015-01-01', standard: '17', reduced: ['3', '8', '12', '14'] }, { effectiveFrom: '2016-01-01', standard: '17', reduced: ['3', '8', '13'] }, { effectiveFrom: '2023-01-01', standard: '16', reduced: ['3', '7', '13'] }, { effectiveFrom: '2024-01-01', standard: '17', reduced: ['3', '8', '14'] }],
  MT: [{ effectiveFrom: '0000-01-01', standard: '18', reduced: ['5', '7'] }],
  NL: [{ effectiveFrom: '0000-01-01', standard: '19', reduced: ['6'] }, { effectiveFrom: '2012-10-01', standard: '21', reduced: ['6'] }, { effectiveFrom: '2019-01-01', standard: '21', reduced: ['9'] }],
  PL: [{ effectiveFrom: '0000-01-01', standard: '23', reduced: ['5', '8'] }],
  PT: [{ effectiveFrom: '0000-01-01', standard: '23', reduced: ['6', '13'] }],
  RO: [{ effectiveFrom: '0000-01-01', standard: '24', reduced: ['5', '9'] }, { effectiveFrom: '2016-01-01', standard: '20', reduced: ['5', '9'] }, { effectiveFrom: '2017-01-01', standard: '19', reduced: ['5', '9'] }, { effectiveFrom: '2025-08-01', standard: '21', reduced: ['11'] }],
  SK: [{ effectiveFrom: '0000-01-01', standard: '19', reduced: ['10'] }, { effectiveFrom: '2011-01-01', standard: '20', reduced: ['10'] }, { effectiveFrom: '2025-01-01', standard: '23', reduced: ['5', '19'] }],
  SI: [{ effectiveFrom: '0000-01-01', standard: '22', reduced: ['5', '9.5'] }],
  ES: [{ effectiveFrom: '0000-01-01', standard: '21', reduced: ['4', '10'] }],
  SE: [{ effectiveFrom: '0000-01-01', standard: '25', reduced: ['6', '12'] }],
};
