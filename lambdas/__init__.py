"""AWS Lambda functions of WikiStream (packaged with ``lambda.Code.from_asset("lambdas")``)."""
