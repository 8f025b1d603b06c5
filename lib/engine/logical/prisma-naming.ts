import { getSchema, type Attribute, type BlockAttribute, type Field, type Model } from "@mrleebo/prisma-ast";

/** Table → model, column → field, from a target app's schema.prisma (honouring @map and @@map). */
export type PrismaNaming = Map<string, { model: string; fields: Map<string, string> }>;

function unquote(text: string): string {
  const trimmed = text.trim();
  return trimmed.startsWith('"') && trimmed.endsWith('"') ? (JSON.parse(trimmed) as string) : trimmed;
}

/** The name given to @map/@@map: `@map("x")` or `@map(name: "x")`. */
function mapArgument(attribute: Attribute | BlockAttribute): string | undefined {
  const first = attribute.args?.[0]?.value;
  if (typeof first === "string") return unquote(first);
  if (first && typeof first === "object" && "type" in first && first.type === "keyValue" && "value" in first && typeof first.value === "string") {
    return unquote(first.value);
  }
  return undefined;
}

/** Parse schema.prisma with a real Prisma schema parser; throws on a schema it cannot read. */
export function parsePrismaNaming(schemaText: string): PrismaNaming {
  const schema = getSchema(schemaText);
  const naming: PrismaNaming = new Map();
  for (const block of schema.list) {
    if (block.type !== "model") continue;
    const model = block as Model;
    let table = model.name;
    const fields = new Map<string, string>();
    for (const property of model.properties) {
      if (property.type === "attribute" && property.name === "map") table = mapArgument(property) ?? table;
      if (property.type !== "field") continue;
      const field = property as Field;
      const mapped = field.attributes?.find((a) => a.name === "map");
      fields.set((mapped && mapArgument(mapped)) ?? field.name, field.name);
    }
    naming.set(table, { model: model.name, fields });
  }
  return naming;
}
