# Microsoft Learn, "Manage group Managed Service Accounts": the steps run on the member host.
Test-ADServiceAccount -Identity gmsa-web
Install-ADServiceAccount -Identity gmsa-web
Test-ADServiceAccount -Identity gmsa-web

# Uninstall a gMSA from your system
$gMSANames = @("gmsa-web$")

foreach ($gMSAs in $gMSANames) {
  Uninstall-ADServiceAccount -Identity $gMSAs
}
