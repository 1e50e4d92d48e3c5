"""AWS CDK (v2) infrastructure of WikiStream: one thin stack composing one construct per capability."""
