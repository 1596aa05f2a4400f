"""The portal's edge in the synthesized stacks (docs/portal.md): a private bucket that only the
distribution reads, a distribution that serves it and sends the API's paths to API Gateway on the same
origin, and the portal's security headers on every answer.

The expected headers are those `make run` serves (web/security-headers.json), and the rules they must
follow are written here, apart from that file: a strict CSP, HSTS of at least a year, no framing, no
referrer, no sniffing.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.infra import cfn
from tests.infra.conftest import REPO, STAGES

pytestmark = pytest.mark.infra

API_PATHS = {"/client/v1/*", "/rest/v1/*", "/agent/v1/*"}
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"  # AWS's managed policies
ALL_VIEWER_EXCEPT_HOST = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
ONE_YEAR = 365 * 24 * 3600


def only(template: cfn.Template, kind: str) -> tuple[str, dict[str, Any]]:
    found = cfn.resources(template, kind)
    assert len(found) == 1, f"{len(found)} {kind}"
    return next(iter(found.items()))


def distribution(template: cfn.Template) -> tuple[str, dict[str, Any]]:
    logical_id, resource = only(template, "AWS::CloudFront::Distribution")
    return logical_id, resource["Properties"]["DistributionConfig"]


def origins_by_id(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {origin["Id"]: origin for origin in config["Origins"]}


@pytest.mark.parametrize("stage", STAGES)
def test_the_bucket_is_private_and_only_the_distribution_reads_it(templates, stage):
    template = templates[stage]
    bucket_id, bucket = only(template, "AWS::S3::Bucket")
    props = bucket["Properties"]
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True}
    assert "WebsiteConfiguration" not in props and "AccessControl" not in props
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    distribution_id, _ = distribution(template)
    _, policy = only(template, "AWS::S3::BucketPolicy")
    assert cfn.ref(policy["Properties"]["Bucket"]) == bucket_id
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    allows = [s for s in statements if s["Effect"] == "Allow"]
    assert len(allows) == 1
    [allow] = allows
    assert allow["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert cfn.as_list(allow["Action"]) == ["s3:GetObject"]
    assert cfn.mentions(allow["Condition"]["StringEquals"]["AWS:SourceArn"], distribution_id)
    denies = [s for s in statements if s["Effect"] == "Deny"]
    assert any(s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in denies)  # TLS only


@pytest.mark.parametrize("stage", STAGES)
def test_the_distribution_serves_the_bucket_through_origin_access_control(templates, stage):
    template = templates[stage]
    bucket_id, _ = only(template, "AWS::S3::Bucket")
    oac_id, oac = only(template, "AWS::CloudFront::OriginAccessControl")
    assert oac["Properties"]["OriginAccessControlConfig"] | {"Name": None} == {
        "Name": None, "OriginAccessControlOriginType": "s3", "SigningBehavior": "always",
        "SigningProtocol": "sigv4"}
    _, config = distribution(template)
    default = config["DefaultCacheBehavior"]
    s3_origin = origins_by_id(config)[default["TargetOriginId"]]
    assert cfn.getatt(s3_origin["DomainName"]) == (bucket_id, "RegionalDomainName")
    assert cfn.getatt(s3_origin["OriginAccessControlId"]) == (oac_id, "Id")
    assert s3_origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}  # no legacy identity
    assert config["DefaultRootObject"] == "index.html"
    assert sorted(default["AllowedMethods"]) == ["GET", "HEAD"]
    assert default["ViewerProtocolPolicy"] == "redirect-to-https"


@pytest.mark.parametrize("stage", STAGES)
def test_the_api_s_paths_go_to_api_gateway_on_the_same_origin(templates, stage):
    template = templates[stage]
    _, config = distribution(template)
    behaviours = {b["PathPattern"]: b for b in config["CacheBehaviors"]}
    assert set(behaviours) == API_PATHS
    api = cfn.props(template, "RestAPI")
    for path, behaviour in behaviours.items():
        origin = origins_by_id(config)[behaviour["TargetOriginId"]]
        assert cfn.mentions(origin["DomainName"], "RestAPI")
        assert "execute-api" in json.dumps(origin["DomainName"])
        assert origin["OriginPath"] == f"/{api['StageName']}"
        assert origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
        assert behaviour["ViewerProtocolPolicy"] == "https-only"  # a POST is never redirected
        assert {"GET", "POST", "PUT", "DELETE", "OPTIONS"} <= set(behaviour["AllowedMethods"]), path
        assert behaviour["CachePolicyId"] == CACHING_DISABLED, path  # nothing of the API is cached
        assert behaviour["OriginRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST, path  # Authorization included
    # every route of the app is reached through one of them
    for route in api["DefinitionBody"]["paths"]:
        assert any(route.startswith(pattern.rstrip("*")) for pattern in API_PATHS), route


@pytest.mark.parametrize("stage", STAGES)
def test_every_answer_carries_the_portal_s_security_headers(templates, stage):
    template = templates[stage]
    policy_id, policy = only(template, "AWS::CloudFront::ResponseHeadersPolicy")
    _, config = distribution(template)
    for behaviour in [config["DefaultCacheBehavior"], *config["CacheBehaviors"]]:
        assert cfn.ref(behaviour["ResponseHeadersPolicyId"]) == policy_id
    settings = policy["Properties"]["ResponseHeadersPolicyConfig"]
    security = settings["SecurityHeadersConfig"]
    assert all(header["Override"] for header in security.values())
    csp = security["ContentSecurityPolicy"]["ContentSecurityPolicy"]
    directives = dict(part.strip().split(" ", 1) for part in csp.split(";"))
    assert directives["default-src"] == "'self'" and directives["frame-ancestors"] == "'none'"
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert "unsafe" not in csp
    assert security["FrameOptions"]["FrameOption"] == "DENY"
    assert security["ReferrerPolicy"]["ReferrerPolicy"] == "no-referrer"
    assert "ContentTypeOptions" in security  # nosniff
    hsts = security["StrictTransportSecurity"]
    assert hsts["AccessControlMaxAgeSec"] >= ONE_YEAR and hsts["IncludeSubdomains"] is True
    # the same headers `make run` serves
    expected = json.loads((REPO / "web" / "security-headers.json").read_text())
    assert csp == expected["portal"]["Content-Security-Policy"]
    custom = {h["Header"]: h["Value"] for h in settings["CustomHeadersConfig"]["Items"]}
    assert custom == {name: value for name, value in expected["portal"].items()
                      if name in ("Permissions-Policy", "Cross-Origin-Opener-Policy")}


@pytest.mark.parametrize("stage", STAGES)
def test_the_portal_s_address_and_bucket_are_outputs(templates, stage):
    outputs = templates[stage]["Outputs"]
    distribution_id, _ = distribution(templates[stage])
    bucket_id, _ = only(templates[stage], "AWS::S3::Bucket")
    assert cfn.getatt(outputs["PortalUrl"]["Value"]["Fn::Join"][1][1]) == (distribution_id, "DomainName")
    assert cfn.ref(outputs["PortalBucket"]["Value"]) == bucket_id
    assert cfn.ref(outputs["PortalDistribution"]["Value"]) == distribution_id
