"""template.yaml offline: cfn-lint finds nothing in it, its parameters' defaults
are the lab's settings, the worker's code is the lab's folder, and the AWS
estimate `make deploy-aws` prints is lab/watch/prices.json's arithmetic.
(tests/integration/test_iac.py deploys it and compares it with `make up`'s stack.)"""

import pytest
from cfnlint.api import ManualArgs, lint_file

from lab.core import settings
from lab.core.errors import Refused
from lab.core.settings import Stack
from lab.stack import iac
from lab.watch import cost


def test_cfn_lint_finds_nothing():
    problems = lint_file(iac.TEMPLATE, ManualArgs(regions=[settings.REGION]))
    assert problems == [], "\n".join(str(problem) for problem in problems)


def test_every_default_is_the_lab_s_setting():
    template = iac.load_template()
    defaults = {name: str(parameter["Default"]) for name, parameter in template["Parameters"].items()}
    wanted = iac.parameters(Stack())
    assert set(wanted) <= set(defaults)
    assert {name: defaults[name] for name in wanted} == wanted
    assert defaults["CreateSenderIdentity"] == "true"  # on AWS the template verifies the sender itself


def test_the_function_is_the_lab_s_worker_as_provisioning_configures_it():
    worker = iac.load_template()["Resources"]["OrderWorker"]["Properties"]
    assert settings.PROJECT_ROOT / worker["CodeUri"] == settings.FUNCTION_SOURCE_DIR
    assert (worker["Handler"], worker["Runtime"]) == (settings.FUNCTION_HANDLER, settings.FUNCTION_RUNTIME)
    assert worker["Events"]["Orders"]["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert iac.template_body("b", "k.zip").count('"CodeUri": {"Bucket": "b", "Key": "k.zip"}') == 1


def test_the_aws_estimate_is_the_bill_of_the_stated_workload():
    lines, total, always_free = iac.monthly_estimate(Stack())
    price = {name: entry["usd"] for name, entry in cost.prices()["prices"].items()}
    by_what = {what: (count, usd) for what, count, _, usd in lines}
    assert by_what["SES emails"] == (iac.ORDERS_PER_MONTH, iac.ORDERS_PER_MONTH * price["ses_email"])
    assert by_what["S3 PUT/LIST requests"][0] == 3 * iac.ORDERS_PER_MONTH
    assert total == sum(usd for *_, usd in lines) > 0
    # The month's SQS and Lambda use fits their always-free amounts; SES and S3 have none.
    sqs_and_lambda = sum(usd for what, _, _, usd in lines if what.startswith(("SQS", "Lambda")))
    assert always_free == pytest.approx(sqs_and_lambda)
    assert total - always_free == pytest.approx(sum(usd for what, _, _, usd in lines if what.startswith(("S3", "SES"))))


def test_deploy_aws_refuses_in_one_line_before_it_touches_any_account(monkeypatch, tmp_path):
    with pytest.raises(Refused, match="SENDER=you@example.com"):
        iac.deploy_to_aws("", yes=True)
    monkeypatch.setattr(settings, "MODE", "tools")
    with pytest.raises(Refused, match="tools container does not have"):
        iac.deploy_to_aws("me@example.com", yes=True)
    monkeypatch.setattr(settings, "MODE", "host")  # the unit tier also runs inside the tools container
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    with pytest.raises(Refused, match="away from AWS"):
        iac.deploy_to_aws("me@example.com", yes=True)
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(Refused, match="no AWS credentials"):
        iac.destroy_aws(yes=True)
