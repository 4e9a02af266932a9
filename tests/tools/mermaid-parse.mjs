// Parse Mermaid diagrams with Mermaid's own parser, as a renderer would before drawing them.
// Input on stdin: a JSON array of diagram texts. Output on stdout: a JSON array with, for each,
// {"ok": true, "type": "<diagram type>"} or {"ok": false, "error": "<parser message>"}.
// Exit code: 0 when every diagram parsed, 1 when any did not, 2 when the tool itself failed.
import { readFileSync } from "node:fs";
import { JSDOM } from "jsdom";

// Mermaid sanitises labels with DOMPurify, which needs a DOM; jsdom provides one without a browser.
const { window } = new JSDOM("<!doctype html><html><body></body></html>");
globalThis.window = window;
globalThis.document = window.document;

let texts;
try {
  texts = JSON.parse(readFileSync(0, "utf8"));
  if (!Array.isArray(texts)) throw new Error("stdin must be a JSON array of diagram texts");
} catch (err) {
  console.error(`mermaid-parse: ${err.message}`);
  process.exit(2);
}

const { default: mermaid } = await import("mermaid");
mermaid.initialize({ startOnLoad: false });

const results = [];
for (const text of texts) {
  try {
    const parsed = await mermaid.parse(text);
    results.push({ ok: true, type: parsed.diagramType });
  } catch (err) {
    results.push({ ok: false, error: String((err && err.message) || err) });
  }
}
console.log(JSON.stringify(results));
process.exit(results.every((r) => r.ok) ? 0 : 1);
