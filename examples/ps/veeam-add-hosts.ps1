# Veeam: the proxy and the target may retrieve the gMSA's password.
Add-ADGroupMember -Identity veeam-gmsa-hosts -Members PROXY01$, TARGET01$
