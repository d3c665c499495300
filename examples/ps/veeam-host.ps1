# Veeam: on the guest interaction proxy and on the target.
Install-ADServiceAccount -Identity gmsa-veeam
Test-ADServiceAccount -Identity gmsa-veeam
