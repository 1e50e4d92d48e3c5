"""The local console: Step Functions executions, the CloudWatch dashboard, the SNS inbox
and the tables of one `make run`, live in the browser (``server.Console``)."""
