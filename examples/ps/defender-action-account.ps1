# Microsoft Defender for Identity: a gMSA for its sensors (see README.md).
$gMSA_AccountName = 'mdiSvc01'
$gMSA_HostsGroupName = 'mdiSvc01Group'
$gMSA_HostsGroup = New-ADGroup -Name $gMSA_HostsGroupName -GroupScope DomainLocal -PassThru
Add-ADGroupMember -Identity $gMSA_HostsGroupName -Members DC1$
New-ADServiceAccount -Name $gMSA_AccountName -DNSHostName "$gMSA_AccountName.corp.example.test" -PrincipalsAllowedToRetrieveManagedPassword $gMSA_HostsGroup
Get-ADServiceAccount -Identity $gMSA_AccountName -Properties PrincipalsAllowedToRetrieveManagedPassword | Select-Object SamAccountName, Enabled, PrincipalsAllowedToRetrieveManagedPassword
