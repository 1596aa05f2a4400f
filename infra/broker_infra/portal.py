"""The portal's edge: a private S3 bucket behind a CloudFront distribution, on the API's origin.

- The bucket holds `web/dist` (`make web`, then `infra/publish-portal.sh`); nothing reaches it but the
  distribution (origin access control: the bucket policy names the distribution, every public access
  is blocked, TLS only).
- The distribution's default behaviour serves the bucket; `/client/v1/*`, `/rest/v1/*` and `/agent/v1/*`
  go to API Gateway (the REST API's stage as origin path), uncached, with every viewer header but Host,
  so the browser sees one origin and no CORS is needed (docs/portal.md).
- One response headers policy on every behaviour, made from `web/security-headers.json` (the file
  `make run` serves the same headers from): the Content-Security-Policy, HSTS, frame-ancestors and
  X-Frame-Options, Referrer-Policy no-referrer, nosniff, Permissions-Policy and COOP.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_s3 as s3
from constructs import Construct

from broker_infra.chalice_template import ApiSpec

REPO_DIR = Path(__file__).resolve().parents[2]
SECURITY_HEADERS = REPO_DIR / "web" / "security-headers.json"
API_PATHS = ("/client/v1/*", "/rest/v1/*", "/agent/v1/*")
# Managed by AWS and known by id: cache nothing of the API, forward what the browser sent except Host
# (API Gateway answers to its own host name). The ids never change.
MANAGED_CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
MANAGED_ALL_VIEWER_EXCEPT_HOST = "b689b0a8-53d0-40ab-baf2-68738e2966ac"


def security_headers() -> dict[str, dict[str, str]]:
    data = json.loads(SECURITY_HEADERS.read_text())
    return {group: dict(values) for group, values in data.items() if not group.startswith("_")}


def _hsts(value: str) -> cloudfront.ResponseHeadersStrictTransportSecurity:
    parts = {p.strip().split("=")[0].lower(): p.strip() for p in value.split(";") if p.strip()}
    max_age = int(parts["max-age"].split("=", 1)[1])
    return cloudfront.ResponseHeadersStrictTransportSecurity(
        access_control_max_age=cdk.Duration.seconds(max_age),
        include_subdomains="includesubdomains" in parts,
        preload="preload" in parts,
        override=True,
    )


def response_headers_policy(scope: Construct, name: str) -> cloudfront.ResponseHeadersPolicy:
    """web/security-headers.json as CloudFront's response headers policy (every header overrides what
    an origin might send)."""
    groups = security_headers()
    headers = {**groups["every_response"], **groups["portal"], **groups["https_only"]}
    known = {
        "Content-Security-Policy",
        "X-Content-Type-Options",
        "X-Frame-Options",
        "Referrer-Policy",
        "Strict-Transport-Security",
    }
    if headers.get("X-Content-Type-Options") != "nosniff" or headers.get("X-Frame-Options") != "DENY":
        raise ValueError("security-headers.json: CloudFront sets only nosniff and X-Frame-Options DENY")
    referrer = cloudfront.HeadersReferrerPolicy(headers["Referrer-Policy"].upper().replace("-", "_"))
    custom = [
        cloudfront.ResponseCustomHeader(header=header, value=value, override=True)
        for header, value in headers.items()
        if header not in known
    ]
    return cloudfront.ResponseHeadersPolicy(
        scope,
        "PortalHeaders",
        response_headers_policy_name=name,
        comment="vdi-broker portal and API: web/security-headers.json",
        security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
            content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
                content_security_policy=headers["Content-Security-Policy"], override=True
            ),
            content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
            frame_options=cloudfront.ResponseHeadersFrameOptions(
                frame_option=cloudfront.HeadersFrameOption.DENY, override=True
            ),
            referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(referrer_policy=referrer, override=True),
            strict_transport_security=_hsts(headers["Strict-Transport-Security"]),
        ),
        custom_headers_behavior=cloudfront.ResponseCustomHeadersBehavior(custom_headers=custom),
    )


class Portal(Construct):
    """The bucket, the distribution and its headers; `api` None leaves out the API's behaviours."""

    def __init__(self, scope: cdk.Stack, construct_id: str, *, prefix: str, api: ApiSpec | None,
                 api_resource: Any, removal_policy: cdk.RemovalPolicy) -> None:
        super().__init__(scope, construct_id)
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            removal_policy=removal_policy,
        )
        self.headers = response_headers_policy(self, f"{prefix}portal")
        behaviours: dict[str, cloudfront.BehaviorOptions] = {}
        if api is not None:
            api_origin = origins.HttpOrigin(
                cdk.Fn.join(".", [api_resource.ref, "execute-api", cdk.Aws.REGION, cdk.Aws.URL_SUFFIX]),
                origin_path=f"/{api.stage_name}",
                protocol_policy=cloudfront.OriginProtocolPolicy.HTTPS_ONLY,
                origin_ssl_protocols=[cloudfront.OriginSslPolicy.TLS_V1_2],
            )
            uncached = cloudfront.CachePolicy.from_cache_policy_id(
                self, "ApiCaching", MANAGED_CACHING_DISABLED
            )
            forwarded = cloudfront.OriginRequestPolicy.from_origin_request_policy_id(
                self, "ApiForwarding", MANAGED_ALL_VIEWER_EXCEPT_HOST
            )
            for path in API_PATHS:
                behaviours[path] = cloudfront.BehaviorOptions(
                    origin=api_origin,
                    allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
                    viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
                    cache_policy=uncached,
                    origin_request_policy=forwarded,
                    response_headers_policy=self.headers,
                    compress=True,
                )
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment=f"{prefix}portal: the portal (S3) and the API (API Gateway) on one origin",
            default_root_object="index.html",
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.S3BucketOrigin.with_origin_access_control(self.bucket),
                allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                response_headers_policy=self.headers,
                compress=True,
            ),
            additional_behaviors=behaviours,
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            price_class=cloudfront.PriceClass.PRICE_CLASS_100,
        )
        cdk.CfnOutput(scope, "PortalUrl", value=f"https://{self.distribution.distribution_domain_name}/",
                      description="The portal (and the API on the same origin)")
        cdk.CfnOutput(scope, "PortalBucket", value=self.bucket.bucket_name,
                      description="Where infra/publish-portal.sh puts web/dist")
        cdk.CfnOutput(scope, "PortalDistribution", value=self.distribution.distribution_id,
                      description="Invalidated by infra/publish-portal.sh after a publish")
