// Reads every partition under a parquet/jira folder with hyparquet, a reader
// jiraduck did not write, and prints per file its rows and its columns with
// their Parquet types, as JSON: the portability test compares them with the
// manifest and with DuckDB. Usage: node read.mjs <parquet/jira folder>
import { readdir } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects, parquetSchema } from 'hyparquet'
import { compressors } from 'hyparquet-compressors'

async function partitions(dir) {
  const out = []
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) out.push(...await partitions(path))
    else if (entry.name.endsWith('.parquet')) out.push(path)
  }
  return out.sort()
}

const converted = { UTF8: 'STRING', JSON: 'JSON', DATE: 'DATE', INT_32: 'INT32', INT_64: 'INT64' }

// typeOf names a column's type the way the test expects it: the logical
// type when there is one, else the converted type, else the physical one;
// a list names the type of its items.
function typeOf(node) {
  const el = node.element
  if (node.children.length > 0) {
    let leaf = node
    while (leaf.children.length > 0) leaf = leaf.children[0]
    return `LIST<${typeOf(leaf)}>`
  }
  const lt = el.logical_type
  if (lt?.type === 'TIMESTAMP') return lt.isAdjustedToUTC ? 'TIMESTAMP_UTC' : 'TIMESTAMP'
  if (lt?.type === 'INTEGER') return `INT${lt.bitWidth}`
  if (lt?.type) return lt.type
  if (el.converted_type && converted[el.converted_type]) return converted[el.converted_type]
  if (el.converted_type?.startsWith('TIMESTAMP')) return 'TIMESTAMP'
  return el.type === 'BYTE_ARRAY' ? 'BINARY' : el.type
}

const root = process.argv[2]
if (!root) {
  console.error('usage: node read.mjs <parquet/jira folder>')
  process.exit(2)
}
const result = []
for (const path of await partitions(root)) {
  const file = await asyncBufferFromFile(path)
  const metadata = await parquetMetadataAsync(file)
  const columns = parquetSchema(metadata).children.map(c => [c.element.name, typeOf(c)])
  // Every value is decoded (zstd included), not only the footer read.
  const rows = await parquetReadObjects({ file, metadata, compressors })
  result.push({ path: relative(root, path), rows: rows.length, num_rows: Number(metadata.num_rows), columns })
}
console.log(JSON.stringify(result))
