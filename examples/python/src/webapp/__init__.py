"""The product under test: a web service that runs as the gMSA ``svc-web$`` and, like gmsad or
credentials-fetcher, fetches the account's password from the DC with the host's own
credentials and turns it into the NT hash its NTLM/Kerberos stack needs."""
