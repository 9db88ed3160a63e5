#!/usr/bin/env node
// Entry point of the `elements-sync` command. The source is TypeScript run by Node's
// type stripping, which needs Node 24; `npx`/`npm run` use the Node 24 the project installs.
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
