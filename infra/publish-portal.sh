#!/usr/bin/env bash
# Publish the portal (web/dist) to a deployed stage: its files into the stage's private bucket, then a
# CloudFront invalidation of index.html (the assets have content-hashed names and never change).
#
#   STAGE=prod bash infra/publish-portal.sh       # after `cdk deploy` of that stage (docs/deploy.md)
#
# Needs the AWS CLI v2 and credentials for the stage's account. The assets of earlier builds are kept: a
# page opened before the publish still loads the files it names. The Cache-Control values are those
# `make run` sends (localdev/web_files.py).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STAGE="${STAGE:-dev}"
STACK="broker-$STAGE"

output() {
  aws cloudformation describe-stacks --stack-name "$STACK" \
      --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text
}

make -C "$REPO" web
BUCKET="$(output PortalBucket)"
DISTRIBUTION="$(output PortalDistribution)"
[ -n "$BUCKET" ] && [ "$BUCKET" != "None" ] || { echo "stack $STACK has no PortalBucket output" >&2; exit 1; }

aws s3 sync "$REPO/web/dist/assets" "s3://$BUCKET/assets" --only-show-errors \
    --cache-control "public, max-age=31536000, immutable"
aws s3 cp "$REPO/web/dist/index.html" "s3://$BUCKET/index.html" --only-show-errors \
    --cache-control "no-cache" --content-type "text/html; charset=utf-8"
aws cloudfront create-invalidation --distribution-id "$DISTRIBUTION" --paths "/" "/index.html" \
    --query "Invalidation.Id" --output text
echo "published web/dist to s3://$BUCKET; the portal: $(output PortalUrl)"
