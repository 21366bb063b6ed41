// js/export.js, the text of `export()` from each collection's live values (a promise of
// each, as `list` answers): the JSON envelope, the CSV table's columns, quoting and formula
// guard, and how it fails. The browser suites check the same through a client
// (`export_json_and_csv`).
import { test } from "node:test";
import assert from "node:assert/strict";
import { loadScript } from "./script-harness.mjs";

const values = await loadScript("values.js", "pwaSyncValues");
const exporter = await loadScript("export.js", "pwaSyncExport", { pwaSyncValues: values });

const names = ["trips", "items"];
const lists = [
  [{ id: "t1", title: 'Rome, "the" city', days: 3 }],
  [{ id: "i1", tags: ["a", "b"], note: "=SUM(A1)", done: true, gone: null, at: { d: 1 } }],
];

test("JSON groups each collection's values under its name, with the format, version and time", async () => {
  const before = Date.now();
  const parsed = JSON.parse(await exporter.text(false, names, lists.map((l) => Promise.resolve(l))));
  assert.deepEqual(Object.keys(parsed), ["format", "version", "exportedAt", "collections"]);
  assert.equal(parsed.format, "pwa-sync-export");
  assert.equal(parsed.version, 1);
  assert.ok(parsed.exportedAt >= before && parsed.exportedAt <= Date.now(), `${parsed.exportedAt}`);
  assert.deepEqual(parsed.collections, { trips: lists[0], items: lists[1] });
});

test("an empty collection is an empty list in JSON and no row in CSV", async () => {
  assert.deepEqual(JSON.parse(await exporter.text(false, ["trips"], [[]])).collections, { trips: [] });
  assert.equal(await exporter.text(true, ["trips"], [[]]), "collection\r\n");
});

test("CSV is one table: the fields in first-seen order, quoted, escaped and with formulas defused", async () => {
  const lines = (await exporter.text(true, names, lists)).split("\r\n");
  assert.deepEqual(lines, [
    "collection,id,title,days,tags,note,done,gone,at",
    'trips,t1,"Rome, ""the"" city",3,,,,,',
    `items,i1,,,"[""a"",""b""]",'=SUM(A1),true,,"{""d"":1}"`,
    "",
  ]);
});

test("CSV quotes text with a line break or an edge space, and guards each formula lead", async () => {
  const row = async (value) => (await exporter.text(true, ["c"], [[{ v: value }]])).split("\r\n")[1];
  assert.equal(await row("two\nlines"), 'c,"two\nlines"');
  assert.equal(await row(" padded"), 'c," padded"');
  assert.equal(await row("padded "), 'c,"padded "');
  for (const lead of ["=", "+", "-", "@", "\t"]) assert.equal(await row(`${lead}1`), `c,'${lead}1`);
  assert.equal(await row("\r1"), `c,"'\r1"`);
  assert.equal(await row("a-b"), "c,a-b", "a formula lead inside the text is left alone");
  assert.equal(await row(-2.5), "c,-2.5", "numbers are not text");
});

test("a collection's name is a cell like any other", async () => {
  assert.equal(await exporter.text(true, ["=x"], [[{ id: "1" }]]), "collection,id\r\n'=x,1\r\n");
});

test("a list that fails fails the export with its own error, and a value JSON cannot write with storage", async () => {
  const refused = Object.assign(new Error("the client is closed"), { name: "PwaSyncError", code: "closed" });
  await assert.rejects(exporter.text(false, names, [Promise.resolve([]), Promise.reject(refused)]), (e) => e === refused);
  for (const asCsv of [false, true]) {
    await assert.rejects(exporter.text(asCsv, ["c"], [[{ n: 1n }]]), (e) => {
      assert.equal(e.name, "PwaSyncError");
      assert.equal(e.code, "storage");
      assert.match(e.message, /^storage error: the export could not be written: TypeError: .*BigInt/);
      return true;
    });
  }
});
