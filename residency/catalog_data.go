// Code in this file is a transcription of public facts; edit it by hand when
// a provider opens, renames or retires a region.

package residency

// builtinRegions returns a fresh copy of the regions DefaultCatalog knows.
// It is a function rather than a package variable so that no two catalogs
// share backing arrays and nothing in the package is mutable.
//
// Azure: every region of Microsoft's public-cloud region list
// (https://learn.microsoft.com/azure/reliability/regions-list), with
// swedensouth added as the access-restricted pair of Sweden Central (its
// programmatic name and country are inferred from its display name and
// pairing). EUDataBoundary is set for the regions located in an EU or EFTA
// country, the countries Microsoft names as the EU Data Boundary
// (https://learn.microsoft.com/privacy/eudb/eu-data-boundary-learn).
// Location is the physical location Microsoft lists.
//
// CoreWeave: general- and dedicated-access regions with their availability
// zones (https://docs.coreweave.com/docs/platform/regions/general-access,
// https://docs.coreweave.com/docs/platform/regions/dedicated-access and the
// per-super-region pages), plus the legacy CoreWeave Cloud codes LGA1, ORD1
// and LAS1, which have no zones. CoreWeave's "EU" geo is a continent, not
// the European Union: EU-WEST-01 and EU-WEST-02 are in the United Kingdom
// and EU-NORTH-02 is in Norway, so every row names its country. CoreWeave
// makes no EU Data Boundary commitment, so no CoreWeave region has
// EUDataBoundary set. DisplayName is the region code, which is how
// CoreWeave names regions; Location is the documented place, empty where
// the documentation gives none.
func builtinRegions() []Region {
	return []Region{
		{Provider: Azure, Name: "australiacentral", DisplayName: "Australia Central", Location: "Canberra", Country: "AU", Geography: "Australia"},
		{Provider: Azure, Name: "australiacentral2", DisplayName: "Australia Central 2", Location: "Canberra", Country: "AU", Geography: "Australia"},
		{Provider: Azure, Name: "australiaeast", DisplayName: "Australia East", Location: "New South Wales", Country: "AU", Geography: "Australia"},
		{Provider: Azure, Name: "australiasoutheast", DisplayName: "Australia Southeast", Location: "Victoria", Country: "AU", Geography: "Australia"},
		{Provider: Azure, Name: "austriaeast", DisplayName: "Austria East", Location: "Vienna", Country: "AT", Geography: "Austria", EUDataBoundary: true},
		{Provider: Azure, Name: "belgiumcentral", DisplayName: "Belgium Central", Location: "Brussels", Country: "BE", Geography: "Belgium", EUDataBoundary: true},
		{Provider: Azure, Name: "brazilsouth", DisplayName: "Brazil South", Location: "Sao Paulo State", Country: "BR", Geography: "Brazil"},
		{Provider: Azure, Name: "brazilsoutheast", DisplayName: "Brazil Southeast", Location: "Rio", Country: "BR", Geography: "Brazil"},
		{Provider: Azure, Name: "canadacentral", DisplayName: "Canada Central", Location: "Toronto", Country: "CA", Geography: "Canada"},
		{Provider: Azure, Name: "canadaeast", DisplayName: "Canada East", Location: "Quebec", Country: "CA", Geography: "Canada"},
		{Provider: Azure, Name: "centralindia", DisplayName: "Central India", Location: "Pune", Country: "IN", Geography: "India"},
		{Provider: Azure, Name: "centralus", DisplayName: "Central US", Location: "Iowa", Country: "US", Geography: "United States"},
		{Provider: Azure, Name: "chilecentral", DisplayName: "Chile Central", Location: "Santiago", Country: "CL", Geography: "Chile"},
		{Provider: Azure, Name: "denmarkeast", DisplayName: "Denmark East", Location: "Copenhagen", Country: "DK", Geography: "Denmark", EUDataBoundary: true},
		{Provider: Azure, Name: "eastasia", DisplayName: "East Asia", Location: "Hong Kong", Country: "HK", Geography: "Asia Pacific"},
		{Provider: Azure, Name: "eastus", DisplayName: "East US", Location: "Virginia", Country: "US", Geography: "United States"},
		{Provider: Azure, Name: "eastus2", DisplayName: "East US 2", Location: "Virginia", Country: "US", Geography: "United States"},
		{Provider: Azure, Name: "francecentral", DisplayName: "France Central", Location: "Paris", Country: "FR", Geography: "France", EUDataBoundary: true},
		{Provider: Azure, Name: "francesouth", DisplayName: "France South", Location: "Marseille", Country: "FR", Geography: "France", EUDataBoundary: true},
		{Provider: Azure, Name: "germanynorth", DisplayName: "Germany North", Location: "Berlin", Country: "DE", Geography: "Germany", EUDataBoundary: true},
		{Provider: Azure, Name: "germanywestcentral", DisplayName: "Germany West Central", Location: "Frankfurt", Country: "DE", Geography: "Germany", EUDataBoundary: true},
		{Provider: Azure, Name: "indiasouthcentral", DisplayName: "India South Central", Location: "Hyderabad", Country: "IN", Geography: "India"},
		{Provider: Azure, Name: "indonesiacentral", DisplayName: "Indonesia Central", Location: "Jakarta", Country: "ID", Geography: "Indonesia"},
		{Provider: Azure, Name: "israelcentral", DisplayName: "Israel Central", Location: "Israel", Country: "IL", Geography: "Israel"},
		{Provider: Azure, Name: "italynorth", DisplayName: "Italy North", Location: "Milan", Country: "IT", Geography: "Italy", EUDataBoundary: true},
		{Provider: Azure, Name: "japaneast", DisplayName: "Japan East", Location: "Tokyo, Saitama", Country: "JP", Geography: "Japan"},
		{Provider: Azure, Name: "japanwest", DisplayName: "Japan West", Location: "Osaka", Country: "JP", Geography: "Japan"},
		{Provider: Azure, Name: "koreacentral", DisplayName: "Korea Central", Location: "Seoul", Country: "KR", Geography: "Korea"},
		{Provider: Azure, Name: "koreasouth", DisplayName: "Korea South", Location: "Busan", Country: "KR", Geography: "Korea"},
		{Provider: Azure, Name: "malaysiawest", DisplayName: "Malaysia West", Location: "Kuala Lumpur", Country: "MY", Geography: "Malaysia"},
		{Provider: Azure, Name: "mexicocentral", DisplayName: "Mexico Central", Location: "Querétaro State", Country: "MX", Geography: "Mexico"},
		{Provider: Azure, Name: "newzealandnorth", DisplayName: "New Zealand North", Location: "Auckland", Country: "NZ", Geography: "New Zealand"},
		{Provider: Azure, Name: "northcentralus", DisplayName: "North Central US", Location: "Illinois", Country: "US", Geography: "United States"},
		{Provider: Azure, Name: "northeurope", DisplayName: "North Europe", Location: "Ireland", Country: "IE", Geography: "Europe", EUDataBoundary: true},
		{Provider: Azure, Name: "norwayeast", DisplayName: "Norway East", Location: "Norway", Country: "NO", Geography: "Norway", EUDataBoundary: true},
		{Provider: Azure, Name: "norwaywest", DisplayName: "Norway West", Location: "Norway", Country: "NO", Geography: "Norway", EUDataBoundary: true},
		{Provider: Azure, Name: "polandcentral", DisplayName: "Poland Central", Location: "Warsaw", Country: "PL", Geography: "Poland", EUDataBoundary: true},
		{Provider: Azure, Name: "qatarcentral", DisplayName: "Qatar Central", Location: "Doha", Country: "QA", Geography: "Qatar"},
		{Provider: Azure, Name: "southafricanorth", DisplayName: "South Africa North", Location: "Johannesburg", Country: "ZA", Geography: "South Africa"},
		{Provider: Azure, Name: "southafricawest", DisplayName: "South Africa West", Location: "Cape Town", Country: "ZA", Geography: "South Africa"},
		{Provider: Azure, Name: "southcentralus", DisplayName: "South Central US", Location: "Texas", Country: "US", Geography: "United States"},
		{Provider: Azure, Name: "southindia", DisplayName: "South India", Location: "Chennai", Country: "IN", Geography: "India"},
		{Provider: Azure, Name: "southeastasia", DisplayName: "Southeast Asia", Location: "Singapore", Country: "SG", Geography: "Asia Pacific"},
		{Provider: Azure, Name: "spaincentral", DisplayName: "Spain Central", Location: "Madrid", Country: "ES", Geography: "Spain", EUDataBoundary: true},
		{Provider: Azure, Name: "swedencentral", DisplayName: "Sweden Central", Location: "Gävle", Country: "SE", Geography: "Sweden", EUDataBoundary: true},
		{Provider: Azure, Name: "switzerlandnorth", DisplayName: "Switzerland North", Location: "Zurich", Country: "CH", Geography: "Switzerland", EUDataBoundary: true},
		{Provider: Azure, Name: "switzerlandwest", DisplayName: "Switzerland West", Location: "Geneva", Country: "CH", Geography: "Switzerland", EUDataBoundary: true},
		{Provider: Azure, Name: "uaecentral", DisplayName: "UAE Central", Location: "Abu Dhabi", Country: "AE", Geography: "UAE"},
		{Provider: Azure, Name: "uaenorth", DisplayName: "UAE North", Location: "Dubai", Country: "AE", Geography: "UAE"},
		{Provider: Azure, Name: "uksouth", DisplayName: "UK South", Location: "London", Country: "GB", Geography: "United Kingdom"},
		{Provider: Azure, Name: "ukwest", DisplayName: "UK West", Location: "Cardiff", Country: "GB", Geography: "United Kingdom"},
		{Provider: Azure, Name: "westcentralus", DisplayName: "West Central US", Location: "Wyoming", Country: "US", Geography: "United States"},
		{Provider: Azure, Name: "westeurope", DisplayName: "West Europe", Location: "Netherlands", Country: "NL", Geography: "Europe", EUDataBoundary: true},
		{Provider: Azure, Name: "westindia", DisplayName: "West India", Location: "Mumbai", Country: "IN", Geography: "India"},
		{Provider: Azure, Name: "westus", DisplayName: "West US", Location: "California", Country: "US", Geography: "United States"},
		{Provider: Azure, Name: "westus2", DisplayName: "West US 2", Location: "Washington", Country: "US", Geography: "United States"},
		{Provider: Azure, Name: "westus3", DisplayName: "West US 3", Location: "Phoenix", Country: "US", Geography: "United States"},
		{Provider: Azure, Name: "swedensouth", DisplayName: "Sweden South", Country: "SE", Geography: "Sweden", EUDataBoundary: true},
		{Provider: CoreWeave, Name: "US-EAST-01", DisplayName: "US-EAST-01", Location: "New York, USA", Country: "US", Geography: "US", SuperRegion: "US-EAST", Zones: []string{"US-EAST-01A"}},
		{Provider: CoreWeave, Name: "US-EAST-02", DisplayName: "US-EAST-02", Location: "New Jersey, USA", Country: "US", Geography: "US", SuperRegion: "US-EAST", Zones: []string{"US-EAST-02A", "US-EAST-02B"}},
		{Provider: CoreWeave, Name: "US-EAST-04", DisplayName: "US-EAST-04", Location: "Virginia, USA", Country: "US", Geography: "US", SuperRegion: "US-EAST", Zones: []string{"US-EAST-04A", "US-EAST-04B"}},
		{Provider: CoreWeave, Name: "US-EAST-06", DisplayName: "US-EAST-06", Location: "Ohio, USA", Country: "US", Geography: "US", SuperRegion: "US-EAST", Zones: []string{"US-EAST-06A"}},
		{Provider: CoreWeave, Name: "US-EAST-08", DisplayName: "US-EAST-08", Location: "Ohio, USA", Country: "US", Geography: "US", SuperRegion: "US-EAST", Zones: []string{"US-EAST-08A"}},
		{Provider: CoreWeave, Name: "US-EAST-13", DisplayName: "US-EAST-13", Location: "Michigan, USA", Country: "US", Geography: "US", SuperRegion: "US-EAST", Zones: []string{"US-EAST-13A"}},
		{Provider: CoreWeave, Name: "US-EAST-14", DisplayName: "US-EAST-14", Location: "New Jersey, USA", Country: "US", Geography: "US", SuperRegion: "US-EAST", Zones: []string{"US-EAST-14A"}},
		{Provider: CoreWeave, Name: "RNO2", DisplayName: "RNO2", Location: "Nevada, USA", Country: "US", Geography: "US", SuperRegion: "US-WEST", Zones: []string{"RNO2A"}},
		{Provider: CoreWeave, Name: "US-WEST-01", DisplayName: "US-WEST-01", Location: "Nevada, USA", Country: "US", Geography: "US", SuperRegion: "US-WEST", Zones: []string{"US-WEST-01A"}},
		{Provider: CoreWeave, Name: "US-WEST-04", DisplayName: "US-WEST-04", Location: "Arizona, USA", Country: "US", Geography: "US", SuperRegion: "US-WEST", Zones: []string{"US-WEST-04A"}},
		{Provider: CoreWeave, Name: "US-WEST-09", DisplayName: "US-WEST-09", Location: "Washington, USA", Country: "US", Geography: "US", SuperRegion: "US-WEST", Zones: []string{"US-WEST-09B"}},
		{Provider: CoreWeave, Name: "EU-SOUTH-03", DisplayName: "EU-SOUTH-03", Location: "Barcelona, Spain", Country: "ES", Geography: "EU", SuperRegion: "EU-SOUTH", Zones: []string{"EU-SOUTH-03B"}},
		{Provider: CoreWeave, Name: "EU-SOUTH-04", DisplayName: "EU-SOUTH-04", Location: "Alava, Spain", Country: "ES", Geography: "EU", SuperRegion: "EU-SOUTH", Zones: []string{"EU-SOUTH-04A"}},
		{Provider: CoreWeave, Name: "US-CENTRAL-06", DisplayName: "US-CENTRAL-06", Location: "Texas, USA", Country: "US", Geography: "US", SuperRegion: "US-CENTRAL", Zones: []string{"US-CENTRAL-06A"}},
		{Provider: CoreWeave, Name: "US-CENTRAL-07", DisplayName: "US-CENTRAL-07", Country: "US", Geography: "US", SuperRegion: "US-CENTRAL", Zones: []string{"US-CENTRAL-07A"}},
		{Provider: CoreWeave, Name: "US-WEST-10", DisplayName: "US-WEST-10", Country: "US", Geography: "US", SuperRegion: "US-WEST", Zones: []string{"US-WEST-10A"}},
		{Provider: CoreWeave, Name: "US-EAST-15", DisplayName: "US-EAST-15", Country: "US", Geography: "US", SuperRegion: "US-EAST", Zones: []string{"US-EAST-15A"}},
		{Provider: CoreWeave, Name: "US-EAST-17", DisplayName: "US-EAST-17", Country: "US", Geography: "US", SuperRegion: "US-EAST", Zones: []string{"US-EAST-17A"}},
		{Provider: CoreWeave, Name: "ATL2", DisplayName: "ATL2", Location: "Georgia, USA", Country: "US", Geography: "US", SuperRegion: "US-EAST", Zones: []string{"ATL2A"}},
		{Provider: CoreWeave, Name: "ATL4", DisplayName: "ATL4", Location: "Georgia, USA", Country: "US", Geography: "US", SuperRegion: "US-EAST", Zones: []string{"ATL4A"}},
		{Provider: CoreWeave, Name: "RDU1", DisplayName: "RDU1", Location: "Virginia, USA", Country: "US", Geography: "US", SuperRegion: "US-EAST", Zones: []string{"RDU1A"}},
		{Provider: CoreWeave, Name: "US-EAST-03", DisplayName: "US-EAST-03", Location: "Pennsylvania, USA", Country: "US", Geography: "US", SuperRegion: "US-EAST", Zones: []string{"US-EAST-03A"}},
		{Provider: CoreWeave, Name: "US-EAST-05", DisplayName: "US-EAST-05", Location: "Georgia, USA", Country: "US", Geography: "US", SuperRegion: "US-EAST", Zones: []string{"US-EAST-05A"}},
		{Provider: CoreWeave, Name: "US-EAST-07", DisplayName: "US-EAST-07", Location: "Ohio, USA", Country: "US", Geography: "US", SuperRegion: "US-EAST", Zones: []string{"US-EAST-07A"}},
		{Provider: CoreWeave, Name: "US-EAST-09", DisplayName: "US-EAST-09", Location: "Georgia, USA", Country: "US", Geography: "US", SuperRegion: "US-EAST", Zones: []string{"US-EAST-09A"}},
		{Provider: CoreWeave, Name: "US-EAST-10", DisplayName: "US-EAST-10", Location: "Massachusetts, USA", Country: "US", Geography: "US", SuperRegion: "US-EAST", Zones: []string{"US-EAST-10A"}},
		{Provider: CoreWeave, Name: "US-EAST-11", DisplayName: "US-EAST-11", Location: "North Carolina, USA", Country: "US", Geography: "US", SuperRegion: "US-EAST", Zones: []string{"US-EAST-11A"}},
		{Provider: CoreWeave, Name: "SBN1", DisplayName: "SBN1", Location: "Indiana, USA", Country: "US", Geography: "US", SuperRegion: "US-CENTRAL", Zones: []string{"SBN1A"}},
		{Provider: CoreWeave, Name: "AUS1", DisplayName: "AUS1", Location: "Texas, USA", Country: "US", Geography: "US", SuperRegion: "US-CENTRAL", Zones: []string{"AUS1A"}},
		{Provider: CoreWeave, Name: "DFW1", DisplayName: "DFW1", Location: "Texas, USA", Country: "US", Geography: "US", SuperRegion: "US-CENTRAL", Zones: []string{"DFW1A"}},
		{Provider: CoreWeave, Name: "US-CENTRAL-01", DisplayName: "US-CENTRAL-01", Location: "Illinois, USA", Country: "US", Geography: "US", SuperRegion: "US-CENTRAL", Zones: []string{"US-CENTRAL-01A"}},
		{Provider: CoreWeave, Name: "US-CENTRAL-02", DisplayName: "US-CENTRAL-02", Location: "Texas, USA", Country: "US", Geography: "US", SuperRegion: "US-CENTRAL", Zones: []string{"US-CENTRAL-02A"}},
		{Provider: CoreWeave, Name: "US-CENTRAL-03", DisplayName: "US-CENTRAL-03", Location: "Texas, USA", Country: "US", Geography: "US", SuperRegion: "US-CENTRAL", Zones: []string{"US-CENTRAL-03A"}},
		{Provider: CoreWeave, Name: "US-CENTRAL-04", DisplayName: "US-CENTRAL-04", Location: "Texas, USA", Country: "US", Geography: "US", SuperRegion: "US-CENTRAL", Zones: []string{"US-CENTRAL-04A"}},
		{Provider: CoreWeave, Name: "US-CENTRAL-05", DisplayName: "US-CENTRAL-05", Location: "Texas, USA", Country: "US", Geography: "US", SuperRegion: "US-CENTRAL", Zones: []string{"US-CENTRAL-05A"}},
		{Provider: CoreWeave, Name: "US-CENTRAL-08", DisplayName: "US-CENTRAL-08", Location: "North Dakota, USA", Country: "US", Geography: "US", SuperRegion: "US-CENTRAL", Zones: []string{"US-CENTRAL-08A", "US-CENTRAL-08B"}},
		{Provider: CoreWeave, Name: "PDX2", DisplayName: "PDX2", Location: "Oregon, USA", Country: "US", Geography: "US", SuperRegion: "US-WEST", Zones: []string{"PDX2A"}},
		{Provider: CoreWeave, Name: "EU-NORTH-01", DisplayName: "EU-NORTH-01", Location: "Falun, Sweden", Country: "SE", Geography: "EU", SuperRegion: "EU-NORTH", Zones: []string{"EU-NORTH-01A"}},
		{Provider: CoreWeave, Name: "EU-NORTH-02", DisplayName: "EU-NORTH-02", Location: "Kristiansand, Norway", Country: "NO", Geography: "EU", SuperRegion: "EU-NORTH", Zones: []string{"EU-NORTH-02A"}},
		{Provider: CoreWeave, Name: "EU-NORTH-04", DisplayName: "EU-NORTH-04", Location: "Stockholm, Sweden", Country: "SE", Geography: "EU", SuperRegion: "EU-NORTH", Zones: []string{"EU-NORTH-04A"}},
		{Provider: CoreWeave, Name: "EU-NORTH-05", DisplayName: "EU-NORTH-05", Location: "Skovlunde, Denmark", Country: "DK", Geography: "EU", SuperRegion: "EU-NORTH", Zones: []string{"EU-NORTH-05A"}},
		{Provider: CoreWeave, Name: "EU-SOUTH-01", DisplayName: "EU-SOUTH-01", Location: "Barcelona, Spain", Country: "ES", Geography: "EU", SuperRegion: "EU-SOUTH", Zones: []string{"EU-SOUTH-01A"}},
		{Provider: CoreWeave, Name: "EU-WEST-01", DisplayName: "EU-WEST-01", Location: "Crawley, UK", Country: "GB", Geography: "EU", SuperRegion: "EU-WEST", Zones: []string{"EU-WEST-01A"}},
		{Provider: CoreWeave, Name: "EU-WEST-02", DisplayName: "EU-WEST-02", Location: "London, UK", Country: "GB", Geography: "EU", SuperRegion: "EU-WEST", Zones: []string{"EU-WEST-02A"}},
		{Provider: CoreWeave, Name: "CA-EAST-01", DisplayName: "CA-EAST-01", Location: "Ontario, Canada", Country: "CA", Geography: "CA", SuperRegion: "CA-EAST", Zones: []string{"CA-EAST-01A"}},
		{Provider: CoreWeave, Name: "LGA1", DisplayName: "LGA1", Location: "Weehawken, NJ, USA", Country: "US", Geography: "US", SuperRegion: "US East (legacy)"},
		{Provider: CoreWeave, Name: "ORD1", DisplayName: "ORD1", Location: "Chicago, IL, USA", Country: "US", Geography: "US", SuperRegion: "US Central (legacy)"},
		{Provider: CoreWeave, Name: "LAS1", DisplayName: "LAS1", Location: "Las Vegas, NV, USA", Country: "US", Geography: "US", SuperRegion: "US West (legacy)"},
	}
}
