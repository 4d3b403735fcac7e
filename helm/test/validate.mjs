// node validate.mjs manifests.yaml: every document checked against the Kubernetes OpenAPI schema of its
// apiVersion and kind (kubernetes-models' generated validators; ServiceMonitor from the prometheus-operator models).
// An unknown apiVersion/kind fails too. Exits 1 when any document fails.
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

const groups = { "monitoring.coreos.com": "@kubernetes-models/prometheus-operator/monitoring.coreos.com" };
let failed = 0;
let count = 0;
for (const doc of parseAllDocuments(readFileSync(process.argv[2], "utf8"))) {
  const object = doc.toJS();
  if (!object) continue;
  count++;
  const { apiVersion, kind } = object;
  const name = object.metadata?.name;
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : [null, apiVersion];
  const module = group ? `${groups[group] ?? `kubernetes-models/${group}`}/${version}` : `kubernetes-models/${version}`;
  try {
    const models = await import(module);
    if (!models[kind]) throw new Error(`no ${kind} in ${module}`);
    new models[kind](object).validate();
    console.log(`ok   ${kind} ${name}`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${apiVersion} ${kind} ${name}: ${e.message}`);
  }
}
console.log(`${count - failed} of ${count} manifests valid`);
process.exit(failed || count === 0 ? 1 : 0);
