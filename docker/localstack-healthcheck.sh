#!/bin/sh
# Healthy means provisioned: LocalStack answers, its ready hook has run, and the
# script that provisions the lab succeeded. ("completed": true alone is not
# enough: LocalStack reports a failed ready script as completed.)
status=$(curl -fsS --max-time 4 http://127.0.0.1:4566/_localstack/init/ready) || exit 1
echo "$status" | grep -Eq '"completed": *true' || exit 1
echo "$status" | grep -Eq '"state": *"(ERROR|RUNNING|UNKNOWN)"' && exit 1
echo "$status" | grep -Eq '"name": *"10-provision-lab.sh"[^}]*"state": *"SUCCESSFUL"'
