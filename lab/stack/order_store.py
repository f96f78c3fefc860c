"""The order store: the S3 bucket the worker writes each order and email receipt to."""

from botocore.exceptions import ClientError


def ensure_bucket(s3, name: str) -> None:
    try:
        s3.create_bucket(Bucket=name)
    except ClientError as error:
        if error.response["Error"]["Code"] != "BucketAlreadyOwnedByYou":
            raise


def empty_bucket(s3, bucket: str) -> None:
    """Delete every object of the bucket (a bucket must be empty to be deleted); none if it is gone."""
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            if keys := [{"Key": item["Key"]} for item in page.get("Contents", [])]:  # at most 1000 a page
                s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
    except ClientError as error:
        if error.response["Error"]["Code"] != "NoSuchBucket":
            raise
