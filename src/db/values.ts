/**
 * Typed queries return timestamptz as a Date, raw ones as Postgres text ("2026-01-02 03:04:05.678+00");
 * the API speaks ISO 8601.
 */
export const isoTime = (value: string | Date): string => new Date(value).toISOString();

/** A bigint[] parameter as Postgres array text, so query builders cannot expand it into a list. */
export const pgIdArray = (ids: readonly number[]): string => `{${ids.map((id) => Math.trunc(id)).join(',')}}`;

/** A text[] parameter as Postgres array text, each element quoted and escaped. */
export const pgTextArray = (values: readonly string[]): string =>
  `{${values.map((v) => `"${v.replace(/[\\"]/g, (c) => `\\${c}`)}"`).join(',')}}`;
