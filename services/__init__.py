"""The four separately deployed processes of the Voice Campaign Service."""
