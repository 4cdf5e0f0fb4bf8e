import { performance } from 'node:perf_hooks';
const t=performance.now();
process.on('exit', () => console.log('exit after last output', (performance.now()-t).toFixed(0)));
