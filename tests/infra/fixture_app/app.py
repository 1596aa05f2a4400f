"""A Chalice app with one handler of every kind, to check that infra/ derives its resources from what
`chalice package` produces (tests/infra/test_derivation.py). Never deployed."""

from chalice import Chalice

app = Chalice(app_name="fixture")


@app.route("/ping")
def ping() -> dict:
    return {"ok": True}


@app.schedule("rate(5 minutes)")
def every_five_minutes(event: object) -> None:
    return None


@app.schedule("cron(0 3 * * ? *)")
def nightly(event: object) -> None:
    return None


@app.on_sqs_message(queue="broker-dev-provisioning", batch_size=1)
def provisioning(event: object) -> None:
    return None


@app.on_sqs_message(queue="broker-dev-reports", batch_size=10)
def reports(event: object) -> None:
    return None


@app.lambda_function()
def plain(event: object, context: object) -> None:
    return None
