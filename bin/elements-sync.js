#!/usr/bin/env -S node --max-semi-space-size=4 --max-old-space-size=1024
// Entry point of the `elements-sync` command. The source is TypeScript run by Node's
// type stripping, which needs Node 24; `npx`/`npm run` use the Node 24 the project installs.
// The heap flags above keep V8 from growing the heap lazily on a large machine: a sync
// keeps about 25 MB alive, but with the defaults it peaks near 300 MB at 100,000 customers
// (docs/performance.md); the Dockerfile and `npm run bench` use the same flags.
const major = Number(process.versions.node.split(".")[0]);
if (major < 24) {
  process.stderr.write(
    `elements-sync needs Node.js 24 or newer (this is ${process.version}). ` +
      "Run it through npx or npm run, which use the Node 24 in node_modules, or install Node 24.\n",
  );
  process.exit(2);
}
const { main } = await import("../src/cli/main.ts");
process.exitCode = await main(process.argv.slice(2));
