# Veeam Help Center, "Using Group Managed Service Accounts" (see README.md): the domain side.
$password = ConvertTo-SecureString "Host-Passw0rd!" -AsPlainText -Force            # setup
New-ADComputer -Name PROXY01 -AccountPassword $password -Enabled $true                # setup: guest interaction proxy
New-ADComputer -Name TARGET01 -AccountPassword $password -Enabled $true               # setup: the backed-up machine
New-ADGroup -Name veeam-gmsa-hosts -GroupScope Global -GroupCategory Security
New-ADServiceAccount -Name gmsa-veeam -DNSHostName gmsa-veeam.corp.example.test -PrincipalsAllowedToRetrieveManagedPassword veeam-gmsa-hosts
