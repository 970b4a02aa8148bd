#!/bin/sh
# One-shot, once the Temporal server answers: the namespace the services use and the custom search
# attributes the workflows upsert, so orders can be filtered in the Web UI and with
# `temporal workflow list --query 'OrderState="held"'`. Safe to run again: only what is missing is
# created. TEMPORAL_ADDRESS and TEMPORAL_NAMESPACE come from docker-compose.yml.
set -eu
ns="${TEMPORAL_NAMESPACE:-default}"

until temporal operator cluster health >/dev/null 2>&1; do
  echo 'waiting for the Temporal server'
  sleep 2
done

if temporal operator namespace describe --namespace "$ns" >/dev/null 2>&1; then
  echo "namespace $ns exists"
else
  temporal operator namespace create --namespace "$ns" --retention 72h
fi

# name:type, as the workflows upsert them.
for attribute in OrderState:Keyword Crypto:Keyword UserId:Int OrderTotalCents:Int; do
  name="${attribute%%:*}"
  type="${attribute#*:}"
  if temporal operator search-attribute list --namespace "$ns" | grep -qw "$name"; then
    echo "search attribute $name exists"
  else
    temporal operator search-attribute create --namespace "$ns" --name "$name" --type "$type"
  fi
done
echo 'temporal setup done'
