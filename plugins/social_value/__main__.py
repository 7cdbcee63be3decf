from social_value.cli import main

if __name__ == "__main__":  # Airflow's plugin loader imports every module under plugins/
    main()
