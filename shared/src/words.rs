//! Words for witnesses: a hash read aloud as words from a fixed list, so
//! that people on both sides of the air gap can compare it by voice.
//!
//! The list is the PGP word list (the "biometric word list" of Patrick
//! Juola and Philip Zimmermann, "Whole-word phonetic distances and the
//! PGPfone alphabet", ICSLP 1996; public domain), as Wikipedia's "PGP word
//! list" article publishes it: 256 two-syllable words for bytes at even
//! positions and 256 three-syllable words for bytes at odd positions, each
//! half in alphabetical order (but for the published order of "applicant"
//! and "Apollo"). Alternating the halves makes a swapped, repeated or
//! dropped word audible: the rhythm breaks.
//!
//! Words are a reading aid beside the full hex, never instead of it: only
//! the first [`WITNESS_BYTES`] bytes are spoken.

use thiserror::Error;

/// How many bytes of a hash are read aloud: 8 bytes, 8 words. Words are
/// spoken and compared by people, so they must stay short enough to read
/// without losing the place (8 words fit one line), while 64 bits still
/// make a crafted look-alike cost about 2^64 hashes for one fixed
/// fingerprint; the full hex, always printed beside them, is the exact
/// comparison.
pub const WITNESS_BYTES: usize = 8;

/// The two-syllable words, for bytes at even positions (0, 2, 4, ...).
pub const EVEN: [&str; 256] = [
    "aardvark",
    "absurd",
    "accrue",
    "acme",
    "adrift",
    "adult",
    "afflict",
    "ahead",
    "aimless",
    "Algol",
    "allow",
    "alone",
    "ammo",
    "ancient",
    "apple",
    "artist",
    "assume",
    "Athens",
    "atlas",
    "Aztec",
    "baboon",
    "backfield",
    "backward",
    "banjo",
    "beaming",
    "bedlamp",
    "beehive",
    "beeswax",
    "befriend",
    "Belfast",
    "berserk",
    "billiard",
    "bison",
    "blackjack",
    "blockade",
    "blowtorch",
    "bluebird",
    "bombast",
    "bookshelf",
    "brackish",
    "breadline",
    "breakup",
    "brickyard",
    "briefcase",
    "Burbank",
    "button",
    "buzzard",
    "cement",
    "chairlift",
    "chatter",
    "checkup",
    "chisel",
    "choking",
    "chopper",
    "Christmas",
    "clamshell",
    "classic",
    "classroom",
    "cleanup",
    "clockwork",
    "cobra",
    "commence",
    "concert",
    "cowbell",
    "crackdown",
    "cranky",
    "crowfoot",
    "crucial",
    "crumpled",
    "crusade",
    "cubic",
    "dashboard",
    "deadbolt",
    "deckhand",
    "dogsled",
    "dragnet",
    "drainage",
    "dreadful",
    "drifter",
    "dropper",
    "drumbeat",
    "drunken",
    "Dupont",
    "dwelling",
    "eating",
    "edict",
    "egghead",
    "eightball",
    "endorse",
    "endow",
    "enlist",
    "erase",
    "escape",
    "exceed",
    "eyeglass",
    "eyetooth",
    "facial",
    "fallout",
    "flagpole",
    "flatfoot",
    "flytrap",
    "fracture",
    "framework",
    "freedom",
    "frighten",
    "gazelle",
    "Geiger",
    "glitter",
    "glucose",
    "goggles",
    "goldfish",
    "gremlin",
    "guidance",
    "hamlet",
    "highchair",
    "hockey",
    "indoors",
    "indulge",
    "inverse",
    "involve",
    "island",
    "jawbone",
    "keyboard",
    "kickoff",
    "kiwi",
    "klaxon",
    "locale",
    "lockup",
    "merit",
    "minnow",
    "miser",
    "Mohawk",
    "mural",
    "music",
    "necklace",
    "Neptune",
    "newborn",
    "nightbird",
    "Oakland",
    "obtuse",
    "offload",
    "optic",
    "orca",
    "payday",
    "peachy",
    "pheasant",
    "physique",
    "playhouse",
    "Pluto",
    "preclude",
    "prefer",
    "preshrunk",
    "printer",
    "prowler",
    "pupil",
    "puppy",
    "python",
    "quadrant",
    "quiver",
    "quota",
    "ragtime",
    "ratchet",
    "rebirth",
    "reform",
    "regain",
    "reindeer",
    "rematch",
    "repay",
    "retouch",
    "revenge",
    "reward",
    "rhythm",
    "ribcage",
    "ringbolt",
    "robust",
    "rocker",
    "ruffled",
    "sailboat",
    "sawdust",
    "scallion",
    "scenic",
    "scorecard",
    "Scotland",
    "seabird",
    "select",
    "sentence",
    "shadow",
    "shamrock",
    "showgirl",
    "skullcap",
    "skydive",
    "slingshot",
    "slowdown",
    "snapline",
    "snapshot",
    "snowcap",
    "snowslide",
    "solo",
    "southward",
    "soybean",
    "spaniel",
    "spearhead",
    "spellbind",
    "spheroid",
    "spigot",
    "spindle",
    "spyglass",
    "stagehand",
    "stagnate",
    "stairway",
    "standard",
    "stapler",
    "steamship",
    "sterling",
    "stockman",
    "stopwatch",
    "stormy",
    "sugar",
    "surmount",
    "suspense",
    "sweatband",
    "swelter",
    "tactics",
    "talon",
    "tapeworm",
    "tempest",
    "tiger",
    "tissue",
    "tonic",
    "topmost",
    "tracker",
    "transit",
    "trauma",
    "treadmill",
    "Trojan",
    "trouble",
    "tumor",
    "tunnel",
    "tycoon",
    "uncut",
    "unearth",
    "unwind",
    "uproot",
    "upset",
    "upshot",
    "vapor",
    "village",
    "virus",
    "Vulcan",
    "waffle",
    "wallet",
    "watchword",
    "wayside",
    "willow",
    "woodlark",
    "Zulu",
];

/// The three-syllable words, for bytes at odd positions (1, 3, 5, ...).
pub const ODD: [&str; 256] = [
    "adroitness",
    "adviser",
    "aftermath",
    "aggregate",
    "alkali",
    "almighty",
    "amulet",
    "amusement",
    "antenna",
    "applicant",
    "Apollo",
    "armistice",
    "article",
    "asteroid",
    "Atlantic",
    "atmosphere",
    "autopsy",
    "Babylon",
    "backwater",
    "barbecue",
    "belowground",
    "bifocals",
    "bodyguard",
    "bookseller",
    "borderline",
    "bottomless",
    "Bradbury",
    "bravado",
    "Brazilian",
    "breakaway",
    "Burlington",
    "businessman",
    "butterfat",
    "Camelot",
    "candidate",
    "cannonball",
    "Capricorn",
    "caravan",
    "caretaker",
    "celebrate",
    "cellulose",
    "certify",
    "chambermaid",
    "Cherokee",
    "Chicago",
    "clergyman",
    "coherence",
    "combustion",
    "commando",
    "company",
    "component",
    "concurrent",
    "confidence",
    "conformist",
    "congregate",
    "consensus",
    "consulting",
    "corporate",
    "corrosion",
    "councilman",
    "crossover",
    "crucifix",
    "cumbersome",
    "customer",
    "Dakota",
    "decadence",
    "December",
    "decimal",
    "designing",
    "detector",
    "detergent",
    "determine",
    "dictator",
    "dinosaur",
    "direction",
    "disable",
    "disbelief",
    "disruptive",
    "distortion",
    "document",
    "embezzle",
    "enchanting",
    "enrollment",
    "enterprise",
    "equation",
    "equipment",
    "escapade",
    "Eskimo",
    "everyday",
    "examine",
    "existence",
    "exodus",
    "fascinate",
    "filament",
    "finicky",
    "forever",
    "fortitude",
    "frequency",
    "gadgetry",
    "Galveston",
    "getaway",
    "glossary",
    "gossamer",
    "graduate",
    "gravity",
    "guitarist",
    "hamburger",
    "Hamilton",
    "handiwork",
    "hazardous",
    "headwaters",
    "hemisphere",
    "hesitate",
    "hideaway",
    "holiness",
    "hurricane",
    "hydraulic",
    "impartial",
    "impetus",
    "inception",
    "indigo",
    "inertia",
    "infancy",
    "inferno",
    "informant",
    "insincere",
    "insurgent",
    "integrate",
    "intention",
    "inventive",
    "Istanbul",
    "Jamaica",
    "Jupiter",
    "leprosy",
    "letterhead",
    "liberty",
    "maritime",
    "matchmaker",
    "maverick",
    "Medusa",
    "megaton",
    "microscope",
    "microwave",
    "midsummer",
    "millionaire",
    "miracle",
    "misnomer",
    "molasses",
    "molecule",
    "Montana",
    "monument",
    "mosquito",
    "narrative",
    "nebula",
    "newsletter",
    "Norwegian",
    "October",
    "Ohio",
    "onlooker",
    "opulent",
    "Orlando",
    "outfielder",
    "Pacific",
    "pandemic",
    "Pandora",
    "paperweight",
    "paragon",
    "paragraph",
    "paramount",
    "passenger",
    "pedigree",
    "Pegasus",
    "penetrate",
    "perceptive",
    "performance",
    "pharmacy",
    "phonetic",
    "photograph",
    "pioneer",
    "pocketful",
    "politeness",
    "positive",
    "potato",
    "processor",
    "provincial",
    "proximate",
    "puberty",
    "publisher",
    "pyramid",
    "quantity",
    "racketeer",
    "rebellion",
    "recipe",
    "recover",
    "repellent",
    "replica",
    "reproduce",
    "resistor",
    "responsive",
    "retraction",
    "retrieval",
    "retrospect",
    "revenue",
    "revival",
    "revolver",
    "sandalwood",
    "sardonic",
    "Saturday",
    "savagery",
    "scavenger",
    "sensation",
    "sociable",
    "souvenir",
    "specialist",
    "speculate",
    "stethoscope",
    "stupendous",
    "supportive",
    "surrender",
    "suspicious",
    "sympathy",
    "tambourine",
    "telephone",
    "therapist",
    "tobacco",
    "tolerance",
    "tomorrow",
    "torpedo",
    "tradition",
    "travesty",
    "trombonist",
    "truncated",
    "typewriter",
    "ultimate",
    "undaunted",
    "underfoot",
    "unicorn",
    "unify",
    "universe",
    "unravel",
    "upcoming",
    "vacancy",
    "vagabond",
    "vertigo",
    "Virginia",
    "visitor",
    "vocalist",
    "voyager",
    "warranty",
    "Waterloo",
    "whimsical",
    "Wichita",
    "Wilmington",
    "Wyoming",
    "yesteryear",
    "Yucatan",
];

/// A word list could not be read back into bytes.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum WordsError {
    /// A word of neither list.
    #[error("word {position} ({word:?}) is not in the PGP word list")]
    Unknown {
        /// Its position, from 1.
        position: usize,
        /// The word.
        word: String,
    },
    /// A word of the other half: the words are out of order, or one is
    /// missing or repeated.
    #[error(
        "word {position} ({word:?}) is a {found}-syllable word where a {expected}-syllable one \
         belongs: a word is missing, repeated or swapped"
    )]
    WrongHalf {
        /// Its position, from 1.
        position: usize,
        /// The word.
        word: String,
        /// Syllables of the half it belongs to.
        found: u8,
        /// Syllables of the half its position needs.
        expected: u8,
    },
}

/// The word for `byte` at position `position` (from 0) of a byte string.
pub fn word(position: usize, byte: u8) -> &'static str {
    if position % 2 == 0 {
        EVEN[byte as usize]
    } else {
        ODD[byte as usize]
    }
}

/// Every byte of `bytes` as its word.
pub fn encode(bytes: &[u8]) -> Vec<&'static str> {
    bytes.iter().enumerate().map(|(i, &b)| word(i, b)).collect()
}

/// The witness words of a hash given as hex: its first [`WITNESS_BYTES`]
/// bytes, space-separated. `None` when `hex` is not hex of at least that
/// many bytes (then there is nothing to read aloud).
pub fn witness_words(hex: &str) -> Option<String> {
    let bytes = hex::decode(hex.get(..WITNESS_BYTES * 2)?).ok()?;
    Some(encode(&bytes).join(" "))
}

/// Words back into bytes, case-insensitively; each word must come from the
/// half its position needs.
pub fn decode<S: AsRef<str>>(words: &[S]) -> Result<Vec<u8>, WordsError> {
    let find = |list: &[&str; 256], w: &str| {
        list.iter()
            .position(|x| x.eq_ignore_ascii_case(w))
            .map(|i| i as u8)
    };
    words
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let w = w.as_ref();
            let (own, other, syllables) = if i % 2 == 0 {
                (&EVEN, &ODD, (2, 3))
            } else {
                (&ODD, &EVEN, (3, 2))
            };
            match (find(own, w), find(other, w)) {
                (Some(b), _) => Ok(b),
                (None, Some(_)) => Err(WordsError::WrongHalf {
                    position: i + 1,
                    word: w.to_string(),
                    found: syllables.1,
                    expected: syllables.0,
                }),
                (None, None) => Err(WordsError::Unknown {
                    position: i + 1,
                    word: w.to_string(),
                }),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The example of Wikipedia's "PGP word list" article.
    #[test]
    fn the_published_example() {
        let bytes = hex::decode("E58294F2E9A227486E8B061B31CC528FD7FA3F19").unwrap();
        assert_eq!(
            encode(&bytes).join(" "),
            "topmost Istanbul Pluto vagabond treadmill Pacific brackish dictator goldfish Medusa \
             afflict bravado chatter revolver Dupont midsummer stopwatch whimsical cowbell bottomless"
        );
        let spoken: Vec<&str> = "topmost Istanbul Pluto vagabond treadmill Pacific brackish \
             dictator goldfish Medusa afflict bravado chatter revolver Dupont midsummer stopwatch \
             whimsical cowbell bottomless"
            .split_whitespace()
            .collect();
        assert_eq!(decode(&spoken).unwrap(), bytes);
    }

    /// The ends of each half, as published: 00 and FF.
    #[test]
    fn the_ends_of_each_half() {
        assert_eq!((EVEN[0], EVEN[255]), ("aardvark", "Zulu"));
        assert_eq!((ODD[0], ODD[255]), ("adroitness", "Yucatan"));
    }

    /// Each half is in the published (alphabetical) order, so that a word
    /// dropped or swapped in this file would show here.
    #[test]
    fn each_half_is_in_alphabetical_order() {
        for (name, list) in [("even", &EVEN), ("odd", &ODD)] {
            for i in 1..256 {
                let (a, b) = (list[i - 1].to_lowercase(), list[i].to_lowercase());
                // The published list keeps "applicant" (09) before "Apollo" (0A).
                if (a.as_str(), b.as_str()) == ("applicant", "apollo") {
                    continue;
                }
                assert!(a < b, "{name} list: {a:?} ({:02X}) before {b:?}", i - 1);
            }
        }
    }

    /// 512 distinct words: no word stands for two bytes, or in both halves.
    #[test]
    fn every_word_is_distinct() {
        let mut all: Vec<String> = EVEN
            .iter()
            .chain(ODD.iter())
            .map(|w| w.to_lowercase())
            .collect();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 512);
    }

    #[test]
    fn witness_words_are_the_first_bytes() {
        let head = "e58294f2e9a227486e8b061b31cc528fd7fa3f19e58294f2e9a227486e8b061b";
        assert_eq!(
            witness_words(head).unwrap(),
            "topmost Istanbul Pluto vagabond treadmill Pacific brackish dictator"
        );
        assert_eq!(witness_words("e582"), None);
        assert_eq!(witness_words("(unrecorded)"), None);
    }

    #[test]
    fn a_word_of_the_wrong_half_is_named() {
        assert_eq!(
            decode(&["topmost", "Pluto"]),
            Err(WordsError::WrongHalf {
                position: 2,
                word: "Pluto".into(),
                found: 2,
                expected: 3
            })
        );
        assert!(matches!(
            decode(&["nonsense"]),
            Err(WordsError::Unknown { position: 1, .. })
        ));
    }

    proptest! {
        /// Every byte, at either parity, maps to one word and back.
        #[test]
        fn every_byte_maps_to_one_word_and_back(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let words = encode(&bytes);
            prop_assert_eq!(words.len(), bytes.len());
            prop_assert_eq!(decode(&words).unwrap(), bytes.clone());
            let upper: Vec<String> = words.iter().map(|w| w.to_uppercase()).collect();
            prop_assert_eq!(decode(&upper).unwrap(), bytes);
        }
    }

    #[test]
    fn every_byte_has_its_own_word_in_each_half() {
        for b in 0..=255u8 {
            assert_eq!(decode(&[word(0, b)]).unwrap(), [b]);
            assert_eq!(decode(&[word(0, 0), word(1, b)]).unwrap(), [0, b]);
        }
    }
}
