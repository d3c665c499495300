# Microsoft Learn, "Manage group Managed Service Accounts" (see README.md): <gMSAName> = gmsa-web,
# <domain> = corp.example.test, <SecurityGroup> = gmsa-web-hosts, computers WEB01$ WEB02$ WEB03$.
Import-Module ActiveDirectory
$password = ConvertTo-SecureString "Host-Passw0rd!" -AsPlainText -Force            # setup
foreach ($h in @("WEB01", "WEB02", "WEB03")) {                                         # setup
  New-ADComputer -Name $h -AccountPassword $password -Enabled $true                   # setup
}                                                                                      # setup
New-ADGroup -Name gmsa-web-hosts -GroupScope Global -GroupCategory Security            # setup

# Create a gMSA
New-ADServiceAccount -Name gmsa-web -DNSHostName gmsa-web.corp.example.test -PrincipalsAllowedToRetrieveManagedPassword gmsa-web-hosts
New-ADServiceAccount -Name gmsa-out -DNSHostName gmsa-out.corp.example.test -RestrictToOutboundAuthenticationOnly -ManagedPasswordIntervalInDays 60 -PrincipalsAllowedToRetrieveManagedPassword gmsa-web-hosts
Set-ADServiceAccount -Identity "gmsa-web" -DisplayName "Web farm"

# Verify changes to a gMSA
Get-ADServiceAccount -Identity "gmsa-web" | Select-Object *

# Add member hosts to a security group
Add-ADPrincipalGroupMembership -Identity WEB01$ -MemberOf gmsa-web-hosts
$securityGroup = "gmsa-web-hosts"
$computerNames = @("WEB02$", "WEB03$")

foreach ($computers in $computerNames) {
$params = @{
   Identity = $securityGroup
   Members  = $computers
 }
Add-ADGroupMember @params
}

# Remove member hosts from a security group
Remove-ADPrincipalGroupMembership -Identity WEB03$ -MemberOf gmsa-web-hosts -Confirm:$false
$computerName = "WEB02$"

$params = @{
   Identity = $securityGroup
   Members  = $computerName
}
Remove-ADGroupMember @params -Confirm:$false
Get-ADServiceAccount -Identity gmsa-web -Properties PrincipalsAllowedToRetrieveManagedPassword, ManagedPasswordIntervalInDays | Select-Object Name, PrincipalsAllowedToRetrieveManagedPassword, ManagedPasswordIntervalInDays
