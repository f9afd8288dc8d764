// Validates Kubernetes manifests against the Kubernetes schemas with kubernetes-models (an ES-module-only
// package, so it runs here rather than inside Jest). Usage: `node validate-k8s.mjs <file.yaml>…`; prints
// one JSON line per document: { file, kind, name, error? } and exits 1 when any is invalid or unknown.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { ConfigMap, Service } from 'kubernetes-models/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { Job } from 'kubernetes-models/batch/v1';
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { parseAllDocuments } from 'yaml';

const MODELS = {
  'v1/ConfigMap': ConfigMap,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'batch/v1/Job': Job,
  'networking.k8s.io/v1/Ingress': Ingress,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
};

let failed = false;
for (const file of process.argv.slice(2)) {
  for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
    const object = doc.toJS();
    const Model = MODELS[`${object.apiVersion}/${object.kind}`];
    const result = { file: basename(file), kind: object.kind, name: object.metadata?.name };
    try {
      if (!Model) {
        throw new Error(`no model for ${object.apiVersion} ${object.kind}`);
      }
      new Model(object).validate();
    } catch (error) {
      failed = true;
      result.error = error.message;
    }
    process.stdout.write(`${JSON.stringify(result)}\n`);
  }
}
process.exit(failed ? 1 : 0);
