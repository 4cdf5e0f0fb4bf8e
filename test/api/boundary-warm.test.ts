/**
 * Every boundary test again, each task on a warm spare (warm-pool.ts) instead of a cold start: the
 * warm path must refuse and allow exactly what the cold path does.
 */
process.env.SWITCHYARD_TEST_WARM = '1';
await import('./boundary.test.ts');
