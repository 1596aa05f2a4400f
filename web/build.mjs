// `make web`: the portal's static files, from src/ into dist/ (docs/portal.md).
//
// esbuild bundles and minifies the JavaScript modules (src/main.js) and the style sheet (src/style.css)
// into content-hashed files under dist/assets/ (cached for a year: a new build has new names), and
// index.html names them (never cached: it is what points at a new build). No inline script or style
// anywhere, so the Content-Security-Policy can forbid both. dist/manifest.json lists every file and its
// size (the bench's page weight reads it).
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const src = join(here, "src");
const dist = join(here, "dist");
const staging = join(here, ".dist-new");

rmSync(staging, { recursive: true, force: true });
mkdirSync(join(staging, "assets"), { recursive: true });

const result = await esbuild.build({
  entryPoints: { app: join(src, "main.js"), style: join(src, "style.css") },
  outdir: join(staging, "assets"),
  entryNames: "[name]-[hash]",
  bundle: true,
  minify: true,
  format: "esm",
  target: ["chrome109", "firefox115", "safari16"],
  legalComments: "none",
  metafile: true,
  logLevel: "warning",
});

const outputs = Object.keys(result.metafile.outputs).map((file) => relative(staging, join(here, file)));
const script = outputs.find((file) => file.endsWith(".js"));
const style = outputs.find((file) => file.endsWith(".css"));
if (!script || !style) throw new Error(`esbuild wrote ${outputs.join(", ")}: no script or no style sheet`);

const page = readFileSync(join(src, "index.html"), "utf8")
  .replace("{{script}}", `/${script}`)
  .replace("{{style}}", `/${style}`);
if (page.includes("{{")) throw new Error("index.html still has a placeholder");
writeFileSync(join(staging, "index.html"), page);

function files(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

const manifest = {
  files: Object.fromEntries(
    files(staging)
      .map((path) => relative(staging, path))
      .sort()
      .map((file) => [file, statSync(join(staging, file)).size]),
  ),
  page: ["index.html", script, style],
  sources: createHash("sha256")
    .update(files(src).sort().map((path) => readFileSync(path)).join("\0"))
    .digest("hex"),
};
writeFileSync(join(staging, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);

// Replace dist/ as a whole, so a server never reads a half-written build.
rmSync(dist, { recursive: true, force: true });
renameSync(staging, dist);
const bytes = manifest.page.reduce((sum, file) => sum + manifest.files[file], 0);
console.log(`web: dist/ built (${Object.keys(manifest.files).length} files; the page is ${bytes} bytes)`);
