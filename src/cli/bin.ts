import { run } from './main.js';

const code = await run(process.argv.slice(2));
// process.exit does not wait for a pipe: let everything written reach stdout and stderr first.
await Promise.all([process.stdout, process.stderr].map((stream) => new Promise<void>((resolve) => stream.write('', () => resolve()))));
process.exit(code);
