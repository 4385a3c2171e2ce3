package residency_test

import (
	"errors"
	"fmt"

	"github.com/tideline-ml/tideline/residency"
)

func ExampleCatalog_Lookup() {
	cat := residency.DefaultCatalog()
	for _, q := range []struct{ provider, name string }{
		{"azure", "westeurope"},
		{"azure", "West Europe"},
		{"coreweave", "eu-south-03b"},
		{"coreweave", "EU-WEST-01"},
	} {
		r, err := cat.Lookup(q.provider, q.name)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("%s %q → %s zone=%q country=%s %v\n", q.provider, q.name, r, r.Zone, r.Country, r.Jurisdictions())
	}
	_, err := cat.Lookup("azure", "westeurpe")
	fmt.Println(errors.Is(err, residency.ErrUnknownRegion))
	// Output:
	// azure "westeurope" → azure/westeurope zone="" country=NL [EU EEA EUDB]
	// azure "West Europe" → azure/westeurope zone="" country=NL [EU EEA EUDB]
	// coreweave "eu-south-03b" → coreweave/EU-SOUTH-03 zone="EU-SOUTH-03B" country=ES [EU EEA]
	// coreweave "EU-WEST-01" → coreweave/EU-WEST-01 zone="" country=GB [UK]
	// true
}

// A restricted dataset may stay in westeurope but not go to eastus.
func ExampleConstraint_Check() {
	cat := residency.DefaultCatalog()
	rule, err := residency.DefaultRules().For(residency.Restricted)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("rule:", rule.Name)

	westeurope, _ := cat.Lookup("azure", "westeurope")
	fmt.Println("westeurope:", rule.Constraint.Check(westeurope))

	eastus, _ := cat.Lookup("azure", "eastus")
	err = rule.Constraint.Check(eastus)
	fmt.Println(err)
	var v *residency.Violation
	fmt.Println(errors.Is(err, residency.ErrNotAllowed), errors.As(err, &v) && v.Region.Country == "US")
	// Output:
	// rule: restricted→EU/EEA
	// westeurope: <nil>
	// residency: region azure/eastus (East US) is in US (jurisdictions: US), outside EU/EEA; choose a region in EU/EEA
	// true true
}

// A model inherits the intersection of the constraints of the datasets it was
// trained on.
func ExampleConstraint_Intersect() {
	claims := residency.MustParseConstraint("EEA")        // restricted
	contacts := residency.MustParseConstraint("EU,GB,CH") // confidential, tightened from EU/EEA, UK, CH
	model := claims.Intersect(contacts)
	fmt.Println("model:", model)

	// Mixed place types: a region in Spain is in the EU, one in the UK is not.
	fmt.Println(model.Intersect(residency.MustParseConstraint("coreweave/EU-SOUTH-03,coreweave/EU-WEST-01")))

	// No place in common.
	us := model.Intersect(residency.MustParseConstraint("US"))
	fmt.Println(us, us.IsNowhere())
	spain, _ := residency.DefaultCatalog().Lookup("coreweave", "EU-SOUTH-03")
	fmt.Println(us.Check(spain))
	// Output:
	// model: EU
	// coreweave/EU-SOUTH-03
	// nowhere true
	// residency: region coreweave/EU-SOUTH-03 is in ES (jurisdictions: EU, EEA), but the constraint allows nowhere: the constraints it combines have no place in common, so no region may hold this data
}

// A constraint is stored with the artifact as text and read back by any
// process that enforces it.
func ExampleConstraint_Encode() {
	c := residency.MustParseConstraint("ch, uk, EEA")
	metadata := map[string]string{"tideline_residency": c.Encode()}
	fmt.Println(metadata["tideline_residency"])

	back, err := residency.ParseConstraint(metadata["tideline_residency"])
	fmt.Println(back, back.Equal(c), err)
	// Output:
	// EEA,GB,CH
	// EU/EEA, UK, CH true <nil>
}

// A dataset may tighten its constraint, never loosen it.
func ExampleConstraint_Tighten() {
	current := residency.MustParseConstraint("EEA")
	tighter, err := current.Tighten(residency.MustParseConstraint("DE"))
	fmt.Println(tighter, err)

	_, err = current.Tighten(residency.MustParseConstraint("EEA,US"))
	fmt.Println(errors.Is(err, residency.ErrLoosened))
	fmt.Println(err)
	// Output:
	// DE <nil>
	// true
	// residency: constraint EU/EEA, US would loosen EU/EEA: US is not within it; a constraint may only be tightened, so choose places within EU/EEA (intersecting the two constraints does that)
}

// A private cluster joins the catalog with its country, and constraints
// treat it like any cloud region.
func ExampleCatalog_Add() {
	cat := residency.DefaultCatalog()
	err := cat.Add(residency.Region{Provider: "onprem", Name: "fra-1", DisplayName: "Frankfurt DC", Country: "DE"})
	if err != nil {
		fmt.Println(err)
		return
	}
	r, _ := cat.Lookup("OnPrem", "frankfurt dc")
	fmt.Println(r, r.Jurisdictions())

	restricted := residency.MustParseConstraint("EEA")
	fmt.Println(restricted.Allows(r))

	c, err := cat.ParseConstraint("onprem/fra-1")
	fmt.Println(c.Intersect(residency.MustParseConstraint("EU")), err)
	// Output:
	// onprem/fra-1 [EU EEA]
	// true
	// onprem/fra-1 <nil>
}
