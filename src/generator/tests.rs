use super::*;

fn config(n: usize, seed: u64) -> Config {
    Config {
        n,
        seed,
        end_us: 1_763_123_696_000_000,
        freq_us: 3_600_000_000,
    }
}

fn generate_with_threads(cfg: &Config, threads: usize) -> DataFrame {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(|| generate(cfg).unwrap())
}

#[test]
fn frame_follows_the_schema() {
    let df = generate(&config(1000, 1)).unwrap();
    assert_eq!(df.height(), 1000);
    assert_eq!(df.schema().as_ref(), &schema::polars_schema().unwrap());
}

#[test]
fn same_seed_same_frame_at_any_thread_count() {
    let cfg = config(3 * CHUNK_ROWS + 17, 7);
    let one = generate_with_threads(&cfg, 1);
    let four = generate_with_threads(&cfg, 4);
    assert!(one.equals(&four));
    assert!(!one.equals(&generate(&config(cfg.n, 8)).unwrap()));
}

#[test]
fn timestamps_step_by_freq_and_end_at_end() {
    let cfg = config(CHUNK_ROWS + 5, 3);
    let df = generate(&cfg).unwrap();
    let ts = df
        .column("timestamp")
        .unwrap()
        .datetime()
        .unwrap()
        .physical()
        .clone();
    let values: Vec<i64> = ts.into_no_null_iter().collect();
    assert_eq!(*values.last().unwrap(), cfg.end_us);
    assert!(values.windows(2).all(|w| w[1] - w[0] == cfg.freq_us));
}

#[test]
fn zero_rows_is_an_empty_frame_with_the_schema() {
    let df = generate(&config(0, 1)).unwrap();
    assert_eq!(df.height(), 0);
    assert_eq!(df.width(), 33);
}

#[test]
fn link_mix_and_derived_columns_follow_the_model() {
    let df = generate(&config(200_000, 42)).unwrap();
    let links = df
        .column("link_type")
        .unwrap()
        .as_materialized_series()
        .to_physical_repr()
        .into_owned();
    let links: Vec<u8> = links.u8().unwrap().into_no_null_iter().collect();
    let share = |code| links.iter().filter(|&&c| c == code).count() as f64 / links.len() as f64;
    assert!((share(0) - 0.4).abs() < 0.01 && (share(2) - 0.3).abs() < 0.01);

    let f = |name: &str| -> Vec<f64> {
        df.column(name)
            .unwrap()
            .f64()
            .unwrap()
            .into_no_null_iter()
            .collect()
    };
    let (entropy, compressibility) = (f("entropy"), f("compressibility_score"));
    assert!(entropy
        .iter()
        .zip(&compressibility)
        .all(|(e, c)| (e + c - 1.0).abs() < 1e-12));
    let (rtt, jitter) = (f("rtt_ms"), f("jitter_ms"));
    assert!(rtt
        .iter()
        .zip(&jitter)
        .all(|(r, j)| *j >= 0.1 * r && *j <= 0.3 * r));
    // Rows that used HDE: the outcome is HDE's own time and CPU cost.
    let classes = df
        .column("current_compression")
        .unwrap()
        .as_materialized_series()
        .to_physical_repr();
    let hde_rows: Vec<usize> = (classes.u8().unwrap().into_no_null_iter().enumerate())
        .filter_map(|(i, c)| (c == 0).then_some(i))
        .collect();
    let (actual, hde) = (f("actual_throughput_mbps"), f("hde_throughput_mbps"));
    let (overhead, hde_time) = (f("total_cpu_overhead_ms"), f("hde_compression_time_ms"));
    assert!(hde_rows.len() > 90_000);
    assert!(hde_rows
        .iter()
        .all(|&i| actual[i] == hde[i] && overhead[i] == hde_time[i]));
}

#[test]
fn bad_configs_name_their_parameter() {
    let err = |cfg: Config| generate(&cfg).unwrap_err().to_string();
    assert!(err(Config {
        freq_us: 0,
        ..config(10, 1)
    })
    .contains("`freq`"));
    assert!(err(Config {
        n: MAX_ROWS + 1,
        ..config(10, 1)
    })
    .contains("`n`"));
    assert!(err(Config {
        end_us: i64::MIN + 5,
        ..config(10, 1)
    })
    .contains("`end`"));
}

#[test]
fn timestamps_stay_within_what_influxdb_stores() {
    // 40M hourly rows ending in 2025 would begin about 2537 BC: refused with what fits
    let message = Config::validate(&config(40_000_000, 1)).unwrap_err().to_string();
    assert!(message.contains("`n`"), "{message}");
    assert!(message.contains("about the year -2538"), "{message}");
    assert!(message.contains("at most 3051805 rows fit"), "{message}");
    assert!(message.contains("with a freq of at most 4m34s"), "{message}");
    // the most rows that fit at 1h, and one more
    let room = config(1, 1).end_us - TIME_RANGE_US.0;
    let fits = usize::try_from(room / 3_600_000_000 + 1).unwrap();
    assert!(Config::validate(&config(fits, 1)).is_ok());
    assert!(Config::validate(&config(fits + 1, 1)).is_err());
    // an end InfluxDB cannot store is refused by name
    let late = Config {
        end_us: TIME_RANGE_US.1 + 1,
        ..config(1, 1)
    };
    assert!(Config::validate(&late).unwrap_err().to_string().contains("`end`"));
    assert_eq!(duration_text(3_600_000_000), "1h");
    assert_eq!(duration_text(275_123_456), "4m35s");
    assert_eq!(duration_text(86_400_000_001), "1d");
}

#[test]
fn row_ranges_add_up_to_the_whole_frame() {
    let cfg = config(3 * CHUNK_ROWS + 100, 11);
    let whole = generate(&cfg).unwrap();
    let cuts = [0, 5000, CHUNK_ROWS, CHUNK_ROWS + 1, 2 * CHUNK_ROWS + 7, cfg.n];
    for w in cuts.windows(2) {
        let part = generate_rows(&cfg, w[0]..w[1]).unwrap();
        assert!(
            part.equals(&whole.slice(w[0] as i64, w[1] - w[0])),
            "rows {}..{}",
            w[0],
            w[1]
        );
    }
    assert!(generate_rows(&cfg, 0..cfg.n + 1)
        .unwrap_err()
        .to_string()
        .contains("`rows`"));
}
