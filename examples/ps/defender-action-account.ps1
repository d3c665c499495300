# Microsoft Defender for Identity, "Configure a gMSA directory service account" (see README.md):
# the statements of the guide's script, in the guide's order and with its syntax (comma arrays,
# an if/else on the group name, New-ADGroup -PassThru, a two-stage ForEach-Object pipeline over
# Get-ADComputer continued across lines, "$name.$env:USERDNSDOMAIN", a backtick continuation,
# the AES encryption types), named for this forest. Lines marked `# setup` create the sensors'
# computer accounts the guide assumes exist.
$password = ConvertTo-SecureString "Host-Passw0rd!" -AsPlainText -Force      # setup
New-ADComputer -Name SENSOR1 -AccountPassword $password -Enabled $true       # setup
New-ADComputer -Name SENSOR2 -AccountPassword $password -Enabled $true       # setup

$serviceName = 'mdiSvc01'
$sensorGroupName = 'mdiSvc01Group'
$sensorNames = 'DC1', 'SENSOR1', 'SENSOR2'

Import-Module ActiveDirectory

if ($sensorGroupName -eq 'Domain Controllers') {
    $sensorGroup = Get-ADGroup -Identity 'Domain Controllers'
} else {
    $sensorGroup = New-ADGroup -Name $sensorGroupName -GroupScope DomainLocal -PassThru
    $sensorNames | ForEach-Object { Get-ADComputer -Identity $_ } |
        ForEach-Object { Add-ADGroupMember -Identity $sensorGroupName -Members $_ }
}

$encryptionTypes = ('AES128','AES256')

New-ADServiceAccount -Name $serviceName -DNSHostName "$serviceName.$env:USERDNSDOMAIN" `
 -PrincipalsAllowedToRetrieveManagedPassword $sensorGroup -KerberosEncryptionType $encryptionTypes

# What the script made: the group, its members, the gMSA.
$sensorGroup
(Get-ADGroup -Identity $sensorGroupName -Properties member).member
Get-ADComputer -Filter "Name -like 'SENSOR*' -or Name -eq 'DC1'" | Select-Object Name, DNSHostName, Enabled
Get-ADServiceAccount -Identity $serviceName -Properties DNSHostName, KerberosEncryptionType, PrincipalsAllowedToRetrieveManagedPassword | Select-Object SamAccountName, DNSHostName, KerberosEncryptionType, PrincipalsAllowedToRetrieveManagedPassword
