/** Read what a price file holds (domain/bars-facts.ts) in one pass over its documents, without building bars. */
import { addDocumentFacts, NO_FACTS, type BarsFacts } from '../../domain/bars-facts.js';
import { priceDocuments } from './alpha-vantage-file.js';

export async function readBarsFacts(path: string): Promise<BarsFacts> {
  let facts = NO_FACTS;
  for await (const { doc } of priceDocuments(path)) facts = addDocumentFacts(facts, doc);
  return facts;
}
